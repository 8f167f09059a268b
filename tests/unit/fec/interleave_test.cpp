// Tests for fec/interleave.hpp: symbol i of every block before symbol i+1.

#include "fec/interleave.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace fleetcast::fec {
namespace {

std::vector<std::pair<std::uint32_t, std::uint32_t>> drain(std::vector<std::uint32_t> counts,
                                                           std::uint32_t window = UINT32_MAX) {
  Interleaver it(std::move(counts), window);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  BlockSymbol s{};
  while (it.next(s)) out.emplace_back(s.block, s.index);
  return out;
}

// Uneven counts: exhausted blocks drop out, order stays level by level.
TEST(Interleaver, LevelOrderAcrossBlocks) {
  using P = std::pair<std::uint32_t, std::uint32_t>;
  const std::vector<P> want{{0, 0}, {1, 0}, {3, 0}, {0, 1}, {3, 1}, {0, 2}};
  EXPECT_EQ(drain({3, 1, 0, 2}), want);
  EXPECT_TRUE(drain({}).empty());
  EXPECT_TRUE(drain({0, 0}).empty());
  EXPECT_EQ(Interleaver({3, 1, 0, 2}).total(), 6u);
}

// A burst of B consecutive packets (B <= blocks) never takes two symbols of one block.
TEST(Interleaver, BurstSpreadsOverBlocks) {
  const auto order = drain(std::vector<std::uint32_t>(50, 220));
  ASSERT_EQ(order.size(), 50u * 220);
  for (std::size_t start = 0; start + 50 <= order.size(); start += 37) {
    std::vector<int> hits(50, 0);
    for (std::size_t i = start; i < start + 50; ++i) ASSERT_EQ(++hits[order[i].first], 1);
  }
}

// Windows: level order within blocks 0-1, then within 2-4 (a window of blocks without symbols
// is skipped); every symbol exactly once.
TEST(Interleaver, WindowByWindow) {
  using P = std::pair<std::uint32_t, std::uint32_t>;
  EXPECT_EQ(drain({2, 1, 3, 0, 1, 1}, 2),
            (std::vector<P>{{0, 0}, {1, 0}, {0, 1}, {2, 0}, {2, 1}, {2, 2}, {4, 0}, {5, 0}}));
  EXPECT_EQ(drain({2, 1, 3, 0, 1, 1}, 3),
            (std::vector<P>{{0, 0}, {1, 0}, {2, 0}, {0, 1}, {2, 1}, {2, 2}, {4, 0}, {5, 0}}));
  EXPECT_EQ(drain({0, 0, 0, 0, 2}, 2), (std::vector<P>{{4, 0}, {4, 1}}));
  EXPECT_EQ(drain({3, 1, 0, 2}, 1),
            (std::vector<P>{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {3, 0}, {3, 1}}));
  // A burst of up to W packets inside a window never takes two symbols of one block, and the
  // blocks of the second window start only once the first is done.
  const auto order = drain(std::vector<std::uint32_t>(100, 130), 64);
  ASSERT_EQ(order.size(), 100u * 130);
  for (std::size_t i = 0; i < 64u * 130; ++i) ASSERT_LT(order[i].first, 64u);
  for (std::size_t start = 0; start + 64 <= 64u * 130; start += 37) {
    std::vector<int> hits(64, 0);
    for (std::size_t i = start; i < start + 64; ++i) ASSERT_EQ(++hits[order[i].first], 1);
  }
}

}  // namespace
}  // namespace fleetcast::fec
