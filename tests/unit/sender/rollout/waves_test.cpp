// The rollout's waves and failure halt (sender/rollout/waves.hpp): wave sizes, the documented
// inclusive limit, and random runs that never activate more than the limits allow.
#include "sender/rollout/waves.hpp"

#include <gtest/gtest.h>

#include <random>

namespace fleetcast::sender {
namespace {

std::vector<std::size_t> sizes(const std::vector<std::vector<std::size_t>>& waves) {
  std::vector<std::size_t> out;
  for (const auto& w : waves) out.push_back(w.size());
  return out;
}

Amount amount(const char* text) {
  return Amount::parse(text).value();
}

// Steps are cumulative; percentages round up; empty steps vanish; the rest is one last wave.
TEST(Waves, CumulativeSteps) {
  auto steps = parse_waves("1,3,100%", nullptr).value();
  EXPECT_EQ(sizes(plan_waves(steps, 8)), (std::vector<std::size_t>{1, 2, 5}));
  steps = parse_waves("1,10%,50%,100%", nullptr).value();
  EXPECT_EQ(sizes(plan_waves(steps, 100)), (std::vector<std::size_t>{1, 9, 40, 50}));
  // 3 hosts: 10 % rounds up to the canary (no new host), 50 % to 2, 100 % to 3.
  EXPECT_EQ(sizes(plan_waves(steps, 3)), (std::vector<std::size_t>{1, 1, 1}));
  EXPECT_EQ(sizes(plan_waves(parse_waves("2", nullptr).value(), 5)),
            (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(plan_waves(steps, 0).size(), 0u);
  std::string error;
  EXPECT_FALSE(parse_waves("1,x", &error));
  EXPECT_NE(error.find("'x'"), std::string::npos);
  EXPECT_FALSE(parse_waves("0", nullptr));
  EXPECT_FALSE(parse_waves("150%", nullptr));
}

// The limit is inclusive: 2 failures of 4 at 50 % go on, the third halts.
TEST(Waves, MaxFailIsInclusive) {
  WaveTracker t(plan_waves({amount("100%")}, 4), 4, amount("50%"));
  t.distributed({true, true, true, true});
  ASSERT_EQ(t.start_next_wave(), 0u);
  t.result(0, false);
  t.result(1, false);
  EXPECT_FALSE(t.halted());
  t.result(2, false);
  EXPECT_TRUE(t.halted()) << "3 of 4 exceed 50 %";
  EXPECT_NE(t.halt_reason().find("3 of 4"), std::string::npos) << t.halt_reason();
}

// A failing canary halts the rollout: the later waves never start, their hosts stay held.
TEST(Waves, CanaryFailureHalts) {
  WaveTracker t(plan_waves(parse_waves("1,3,100%", nullptr).value(), 8), 8, amount("0"));
  t.distributed(std::vector<bool>(8, true));
  ASSERT_EQ(t.start_next_wave(), 0u);
  EXPECT_FALSE(t.start_next_wave()) << "wave 2 may not start before the canary's result";
  t.result(0, false);
  EXPECT_TRUE(t.halted());
  EXPECT_FALSE(t.start_next_wave());
  for (std::size_t h = 1; h < 8; ++h) EXPECT_EQ(t.state(h), HostState::held) << h;
  EXPECT_TRUE(t.finished());
}

// A wave whose second half waits for a later window and the first half fails: the waiting
// hosts are withheld (held again, untouched), a result for them is ignored, and the rollout
// stays halted.
TEST(Waves, WithheldHostsStayHeld) {
  WaveTracker t(plan_waves({amount("100%")}, 4), 4, amount("0"));
  t.distributed(std::vector<bool>(4, true));
  ASSERT_EQ(t.start_next_wave(), 0u);
  t.result(0, false);
  ASSERT_TRUE(t.halted());
  for (std::size_t h = 1; h < 4; ++h) t.withhold(h);
  t.withhold(0);  // has a result: unchanged
  EXPECT_EQ(t.state(0), HostState::failed);
  for (std::size_t h = 1; h < 4; ++h) EXPECT_EQ(t.state(h), HostState::held) << h;
  t.result(1, true);  // never activated: no result counts
  EXPECT_EQ(t.state(1), HostState::held);
  EXPECT_TRUE(t.finished());
}

// Hosts that did not hold the bundle (or never answered) count as failures, before any wave.
TEST(Waves, NotHeldAndUnreachableCount) {
  WaveTracker t(plan_waves({amount("1"), amount("100%")}, 4), 4, amount("1"));
  t.distributed({true, false, true, true});
  EXPECT_FALSE(t.halted());
  ASSERT_EQ(t.start_next_wave(), 0u);
  t.result(0, true);
  ASSERT_EQ(t.start_next_wave(), 1u);
  EXPECT_EQ(t.activated_in(1), (std::vector<std::size_t>{2, 3}));  // host 1 is never activated
  EXPECT_EQ(t.state(1), HostState::not_held);
  t.result(2, false);  // unreachable after activation: the runner reports it failed
  EXPECT_TRUE(t.halted());
  WaveTracker u(plan_waves({amount("100%")}, 2), 2, amount("0"));
  u.distributed({false, true});
  EXPECT_TRUE(u.halted()) << "a host that rejected the bundle at check exceeds --max-fail 0";
  EXPECT_FALSE(u.start_next_wave());
}

// A host missing from the distribution is no failure yet: a catch-up before its wave decides.
TEST(Waves, MissingHostsWaitForTheirCatchUp) {
  using D = WaveTracker::Delivery;
  WaveTracker t(plan_waves({amount("1"), amount("100%")}, 4), 4, amount("0"));
  t.distributed({D::held, D::held, D::missing, D::missing});
  EXPECT_FALSE(t.halted()) << "two silent hosts are not failures yet";
  ASSERT_EQ(t.start_next_wave(), 0u);
  t.result(0, true);
  EXPECT_EQ(t.pending_in(1), (std::vector<std::size_t>{2, 3}));
  t.caught_up(2, true);
  EXPECT_FALSE(t.halted());
  t.caught_up(3, false);  // still unreachable: now it counts
  EXPECT_TRUE(t.halted());
  EXPECT_FALSE(t.start_next_wave());
}

// Random runs (hosts, waves, limits, results in random order): a wave starts only after the
// previous one finished, never after a halt, and the rollout halts exactly when the failures
// exceed what the limit tolerates fleet-wide or in a wave.
TEST(Waves, RandomRunsNeverActivateMoreThanAllowed) {
  std::mt19937 rng(20261128);
  auto below = [&](unsigned n) { return static_cast<unsigned>(rng() % n); };
  for (int run = 0; run < 2000; ++run) {
    const std::size_t n = 1 + rng() % 40;
    std::vector<Amount> steps;
    for (unsigned s = 1 + below(4), last = 0; s > 0; --s) {
      last += 1 + below(10);
      steps.push_back(rng() % 2 ? Amount{last, false} : Amount{std::min(100u, last * 5), true});
    }
    const Amount limit = rng() % 2 ? Amount{static_cast<unsigned>(rng() % 4), false}
                                   : Amount{static_cast<unsigned>(rng() % 60), true};
    const double p_fail = below(30) / 100.0;
    std::bernoulli_distribution fails(p_fail);
    const auto waves = plan_waves(steps, n);
    WaveTracker t(waves, n, limit);
    std::vector<bool> held(n);
    for (std::size_t h = 0; h < n; ++h) held[h] = !fails(rng);
    t.distributed(held);
    std::size_t activated = 0;
    while (auto w = t.start_next_wave()) {
      auto hosts = t.activated_in(*w);
      std::shuffle(hosts.begin(), hosts.end(), rng);
      for (std::size_t h : hosts) {
        if (t.state(h) != HostState::activated) continue;
        ++activated;
        t.result(h, !fails(rng));
      }
      // Recount independently: the halt matches the documented rule.
      std::size_t total = 0, worst_excess = 0;
      for (std::size_t h = 0; h < n; ++h) {
        total += t.state(h) == HostState::failed || t.state(h) == HostState::not_held;
      }
      for (std::size_t v = 0; v <= *w; ++v) {
        std::size_t in = 0;
        for (std::size_t h : waves[v]) {
          in += t.state(h) == HostState::failed || t.state(h) == HostState::not_held;
        }
        if (in > tolerated(limit, waves[v].size())) worst_excess = 1;
      }
      const bool should = total > tolerated(limit, n) || worst_excess > 0;
      ASSERT_EQ(t.halted(), should) << "run " << run << " wave " << *w;
    }
    ASSERT_TRUE(t.finished());
    std::size_t limit_hosts = 0;
    for (std::size_t v = 0; v < t.waves_started(); ++v) limit_hosts += waves[v].size();
    ASSERT_LE(activated, limit_hosts);
    if (!t.halted()) {
      ASSERT_EQ(t.waves_started(), waves.size());
    }
  }
}

}  // namespace
}  // namespace fleetcast::sender
