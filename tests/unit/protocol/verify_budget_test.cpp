// The host's verification budget (protocol/verify_budget.hpp): lines verified once are not
// verified again, unknown sources share a small budget and wait after a failure, the manager's
// address keeps being verified through a flood from elsewhere, and a spoofed flood from the
// manager's own address is bounded too.
#include "protocol/verify_budget.hpp"

#include <gtest/gtest.h>

namespace fleetcast::protocol {
namespace {

text::Endpoint source(std::uint8_t last) {
  text::Endpoint e;
  e.address[0] = 0xfd;
  e.address[15] = last;
  e.port = 4711;
  return e;
}

TEST(VerifyBudget, CacheUntrustedTrusted) {
  VerifyBudget b;
  const auto t0 = VerifyBudget::Clock::time_point{} + std::chrono::hours(1);
  const auto manager = source(1), attacker = source(2);
  const std::uint8_t line[] = {'U', 'P', 'D'};
  const auto h = VerifyBudget::hash(line);
  EXPECT_FALSE(b.known(h));
  ASSERT_TRUE(b.admit(manager, t0));
  b.verified(h, manager, t0);
  EXPECT_TRUE(b.known(h)) << "the same bytes are not verified again";
  // Unknown sources share kUntrustedPerSecond verifications per second; one that failed waits.
  std::uint32_t admitted = 0;
  for (std::uint8_t i = 10; i < 200; ++i) admitted += b.admit(source(i), t0) ? 1u : 0u;
  // (the manager's first line, before its address was trusted, took one of them)
  EXPECT_EQ(admitted, VerifyBudget::kUntrustedPerSecond - 1);
  EXPECT_TRUE(b.admit(attacker, t0 + std::chrono::seconds(1)));
  b.failed(attacker, t0 + std::chrono::seconds(1));
  EXPECT_FALSE(b.admit(attacker, t0 + std::chrono::milliseconds(1500))) << "penalty";
  EXPECT_TRUE(b.admit(attacker, t0 + std::chrono::milliseconds(2100)));
  // The manager's address is verified however much the others send...
  for (int i = 0; i < 10000; ++i) (void)b.admit(source(3), t0 + std::chrono::seconds(3));
  EXPECT_TRUE(b.admit(manager, t0 + std::chrono::seconds(3)));
  // ... but forged lines from its own (spoofed) address cost at most kTrustedFailures a second.
  std::uint32_t tried = 0;
  for (int i = 0; i < 1000; ++i) {
    if (!b.admit(manager, t0 + std::chrono::seconds(4))) continue;
    ++tried;
    b.failed(manager, t0 + std::chrono::seconds(4));
  }
  EXPECT_EQ(tried, VerifyBudget::kTrustedFailures);
  EXPECT_TRUE(b.admit(manager, t0 + std::chrono::seconds(5)));
  EXPECT_GT(b.refused(), 10000u);
  // The verified-line cache keeps the newest kVerifiedCache lines.
  for (std::uint32_t i = 0; i < VerifyBudget::kVerifiedCache; ++i) {
    const std::uint8_t other[] = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8),
                                  1};
    b.verified(VerifyBudget::hash(other), manager, t0 + std::chrono::seconds(6));
  }
  EXPECT_FALSE(b.known(h));
}

}  // namespace
}  // namespace fleetcast::protocol
