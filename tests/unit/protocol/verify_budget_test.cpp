// The verification budget (protocol/verify_budget.hpp): lines verified once are not verified
// again, every verification counts against its source, other sources share a small budget and
// wait after a failure, the manager's pinned address is verified through any flood from
// elsewhere, and a line that verified earns its source nothing.
#include "protocol/verify_budget.hpp"

#include <gtest/gtest.h>

namespace fleetcast::protocol {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

text::Endpoint source(std::uint32_t n) {
  text::Endpoint e;
  e.address[0] = 0xfd;
  e.address[12] = static_cast<std::uint8_t>(n >> 24);
  e.address[13] = static_cast<std::uint8_t>(n >> 16);
  e.address[14] = static_cast<std::uint8_t>(n >> 8);
  e.address[15] = static_cast<std::uint8_t>(n);
  e.port = 4711;
  return e;
}

const auto t0 = VerifyBudget::Clock::time_point{} + std::chrono::hours(1);

// The same bytes are verified once; the cache keeps the newest `cache` lines.
TEST(budget, VerifiedLinesAreNotVerifiedAgain) {
  VerifyBudget b;
  const std::uint8_t line[] = {'U', 'P', 'D'};
  const auto h = VerifyBudget::hash(line);
  EXPECT_FALSE(b.known(h));
  b.verified(h);
  EXPECT_TRUE(b.known(h));
  for (std::uint32_t i = 0; i < VerifyBudget::kVerifiedCache; ++i) {
    const std::uint8_t other[] = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8),
                                  1};
    b.verified(VerifyBudget::hash(other));
  }
  EXPECT_FALSE(b.known(h));
}

// Every verification counts, failed or not: one source gets kPerSourcePerSecond a second, all
// unpinned sources together kSharedPerSecond, and a source whose line failed waits kPenalty.
TEST(budget, EveryVerificationCountsPerSourceAndShared) {
  VerifyBudget b;
  std::uint32_t one = 0;
  for (int i = 0; i < 1000; ++i) one += b.admit(source(1), t0) ? 1u : 0u;
  EXPECT_EQ(one, VerifyBudget::kPerSourcePerSecond) << "a source that only verifies is limited";
  std::uint32_t many = 0;
  for (std::uint32_t i = 100; i < 1100; ++i) many += b.admit(source(i), t0) ? 1u : 0u;
  EXPECT_EQ(many + one, VerifyBudget::kSharedPerSecond);
  EXPECT_TRUE(b.admit(source(2), t0 + seconds(1)));
  b.failed(source(2), t0 + seconds(1));
  EXPECT_FALSE(b.admit(source(2), t0 + milliseconds(1500))) << "penalty";
  EXPECT_TRUE(b.admit(source(2), t0 + milliseconds(2100)));
  EXPECT_GT(b.refused(), 1000u);
}

// The issue-26 attack: replays from fresh addresses at 70/s for 20 s, then a burst from one
// more address. The manager's pinned address is admitted every second throughout; a flood
// spoofing the manager's own address costs at most kPinnedPerSecond a second.
TEST(budget, PinnedManagerIsVerifiedThroughFloodsFromFreshAddresses) {
  VerifyBudget b;
  const auto manager = source(1);
  b.pin(manager.address);
  std::uint32_t next = 1000;
  for (int second = 0; second < 20; ++second) {
    const auto t = t0 + seconds(second);
    for (int i = 0; i < 70; ++i) (void)b.admit(source(next++), t + milliseconds(i));
    for (int i = 0; i < 10000; ++i) (void)b.admit(source(999), t + milliseconds(800));
    EXPECT_TRUE(b.admit(manager, t + milliseconds(900))) << "second " << second;
  }
  EXPECT_LE(b.sources(), VerifyBudget::kMaxSources);
  std::uint32_t spoofed = 0;
  for (int i = 0; i < 5000; ++i) {
    if (!b.admit(manager, t0 + seconds(30))) continue;
    ++spoofed;
    b.failed(manager, t0 + seconds(30));
  }
  EXPECT_EQ(spoofed, VerifyBudget::kPinnedPerSecond);
  EXPECT_TRUE(b.admit(manager, t0 + seconds(31)));
}

// A source table full of sources still counting does not evict the pinned manager, and new
// sources then meet the shared budget alone.
TEST(budget, SourceTableIsBoundedAndNeverEvictsThePin) {
  VerifyBudget b;
  b.pin(source(1).address);
  for (std::uint32_t i = 0; i < 3 * VerifyBudget::kMaxSources; ++i) {
    (void)b.admit(source(100 + i), t0);
    b.failed(source(100 + i), t0);
  }
  EXPECT_LE(b.sources(), VerifyBudget::kMaxSources);
  EXPECT_TRUE(b.pinned(source(1).address));
  EXPECT_TRUE(b.admit(source(1), t0));
  for (std::uint32_t i = 2; i < 2 + VerifyBudget::kMaxPinned; ++i) b.pin(source(i).address);
  EXPECT_FALSE(b.pinned(source(1).address)) << "the oldest pin goes first";
}

}  // namespace
}  // namespace fleetcast::protocol
