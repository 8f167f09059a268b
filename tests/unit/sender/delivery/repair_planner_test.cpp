// Tests for sender/delivery/repair_planner.hpp: dense blocks are sized for a typical host and sent
// alone, sparse blocks are combined only where no host needs two blocks of one packet, every block
// gets its symbols in distinct packets, and without MIXED packets the worst host sizes each block.

#include "sender/delivery/repair_planner.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

namespace fleetcast::sender {
namespace {

namespace p = protocol;

const fec::BlockPlan kPlan = fec::BlockPlan::make(100 * 128 * 1000, 1000, 128).value();

// Per block: the packets that carry one of its symbols.
std::map<std::uint32_t, std::vector<std::size_t>> packets_by_block(const RoundPackets& r) {
  std::map<std::uint32_t, std::vector<std::size_t>> out;
  for (std::size_t i = 0; i < r.size(); ++i) {
    for (const std::uint32_t b : r.packet(i)) out[b].push_back(i);
  }
  return out;
}

// A block every host needs is dense: sized at mean + kDenseSpread sd of the needs, sent alone.
TEST(RepairPlanner, DenseBlocksAreSizedForATypicalHostAndSentAlone) {
  std::vector<std::vector<p::NakEntry>> needs;
  for (const int n : {2, 4, 6, 8})
    needs.push_back({{7, static_cast<std::uint8_t>(n), 1}});  // mean 5, sd ~2.24
  const auto r = plan_repair({&kPlan, needs, 0.05, 16});
  const auto by_block = packets_by_block(r);
  ASSERT_EQ(by_block.size(), 1u);
  EXPECT_EQ(by_block.at(7).size(), repair_symbols(5 + kDenseSpread * std::sqrt(5.0), 0.05));
  for (std::size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r.packet(i).size(), 1u);
  EXPECT_LT(by_block.at(7).size(), repair_symbols(8, 0.05));  // less than the worst host's
}

// Without MIXED packets (max_parts 1) every block is sized for its worst host.
TEST(RepairPlanner, WithoutMixingTheWorstHostSizesEachBlock) {
  std::vector<std::vector<p::NakEntry>> needs = {{{3, 2, 2}}, {{4, 9, 1}}, {}};
  const auto r = plan_repair({&kPlan, needs, 0.1, 1});
  const auto by_block = packets_by_block(r);
  EXPECT_EQ(by_block.at(3).size(), repair_symbols(2, 0.1));
  EXPECT_EQ(by_block.at(4).size(), repair_symbols(9, 0.1));
  EXPECT_EQ(r.multi_count(), 0u);
  EXPECT_EQ(r.single_packets(), r.size());
}

// Random sparse needs of 40 hosts: no packet holds two blocks one host needs, each block gets its
// worst host's symbols in distinct packets, and packing saves most of the packets.
TEST(RepairPlanner, SparseBlocksShareOnlyPacketsNoHostNeedsTwiceFrom) {
  std::mt19937_64 rng(5);
  std::vector<std::vector<p::NakEntry>> needs(40);
  std::map<std::uint32_t, std::set<std::size_t>> needy;
  std::map<std::uint32_t, std::uint32_t> worst;
  for (std::size_t h = 0; h < needs.size(); ++h) {
    for (std::uint32_t b = 0; b < kPlan.block_count(); ++b) {
      if (rng() % 20 != 0) continue;  // each host needs ~5 % of the blocks
      const auto n = static_cast<std::uint8_t>(1 + rng() % 3);
      needs[h].push_back({b, n, 1});
      needy[b].insert(h);
      worst[b] = std::max<std::uint32_t>(worst[b], n);
    }
  }
  const auto r = plan_repair({&kPlan, needs, 0.05, 10});
  std::size_t singles = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const auto blocks = r.packet(i);
    EXPECT_LE(blocks.size(), 10u);
    std::set<std::size_t> served;
    for (const std::uint32_t b : blocks) {
      for (const std::size_t h : needy[b]) EXPECT_TRUE(served.insert(h).second) << "packet " << i;
    }
    singles += blocks.size() == 1;
  }
  std::size_t blockwise = 0;
  for (const auto& [b, packets] : packets_by_block(r)) {
    EXPECT_EQ(packets.size(), repair_symbols(worst.at(b), 0.05)) << "block " << b;
    EXPECT_EQ(std::set<std::size_t>(packets.begin(), packets.end()).size(), packets.size());
    blockwise += packets.size();
  }
  EXPECT_EQ(packets_by_block(r).size(), needy.size());
  EXPECT_LT(r.size() * 2, blockwise) << singles << " single-block packets";
}

// Entries past the plan's last block, and needs above k, are clipped; an empty round is empty.
TEST(RepairPlanner, ClipsToThePlan) {
  std::vector<std::vector<p::NakEntry>> needs = {{{98, 255, 10}}};
  const auto r = plan_repair({&kPlan, needs, 0.0, 16});
  const auto by_block = packets_by_block(r);
  ASSERT_EQ(by_block.size(), 2u);  // blocks 98 and 99 only
  EXPECT_EQ(by_block.at(99).size(), 128u);
  std::vector<std::vector<p::NakEntry>> none(3);
  EXPECT_EQ(plan_repair({&kPlan, none, 0.05, 16}).size(), 0u);
}

// The sizing rule: need / (1 - loss) plus half a binomial standard deviation, one more for tiny
// needs under loss, nothing for nothing.
TEST(RepairPlanner, RepairSymbols) {
  EXPECT_EQ(repair_symbols(0, 0.3), 0u);
  EXPECT_EQ(repair_symbols(10, 0.0), 10u);
  EXPECT_EQ(repair_symbols(10, 0.05), 11u);  // (10 + 0.5 * sqrt(0.5)) / 0.95 = 10.9
  EXPECT_EQ(repair_symbols(1, 0.05), 3u);    // (1 + 0.5 * sqrt(0.05)) / 0.95 = 1.2, +1: tiny
}

}  // namespace
}  // namespace fleetcast::sender
