// The adaptive rate (sender/rate/rate_control.hpp) against simulated hosts on a fake clock:
// each interval, every host loses what its model says at the rate that interval ran at and
// reports as a real host would (at or above the probe's threshold, or when named).
#include "sender/rate/rate_control.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <random>

namespace fleetcast::sender {
namespace {

namespace p = protocol;
constexpr std::uint64_t kMbit = 125'000;  // bytes per second

// A fleet of hosts whose loss at a rate (bytes/s) is `loss(host, rate)`, drawn per packet.
struct Fleet {
  RateControl rc;
  std::function<double(std::size_t, std::uint64_t)> loss;
  std::size_t hosts = 0;
  std::mt19937_64 rng{7};
  Clock::time_point now{};
  std::uint32_t last_probe = 0;
  std::vector<std::uint64_t> rates;  // the rate of each interval

  Fleet(RateConfig c, std::size_t n, std::function<double(std::size_t, std::uint64_t)> l)
      : rc(c, names(n), keys(n)), loss(std::move(l)), hosts(n) {}
  static std::vector<std::string> names(std::size_t n) {
    std::vector<std::string> out;
    for (std::size_t i = 1; i <= n; ++i) {
      std::string name = "r";
      name += std::to_string(i);  // (GCC 12 -Wrestrict on "r" + std::to_string)
      out.push_back(name);
    }
    return out;
  }
  static std::vector<p::KeyId> keys(std::size_t n) {
    std::vector<p::KeyId> out;
    for (std::size_t i = 1; i <= n; ++i) out.push_back(p::KeyId{i});
    return out;
  }
  // `n` intervals; returns the mean loss of the worst host over them.
  double run(int n) {
    double worst_sum = 0;
    p::Probe probe = rc.probe(now, 0);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t rate = rc.rate();
      rates.push_back(rate);
      const auto length = rc.next_probe() - now;
      now += length;
      const double seconds = std::chrono::duration<double>(length).count();
      const auto sent = static_cast<std::uint64_t>(static_cast<double>(rate) * seconds);
      const auto expected = static_cast<std::uint32_t>(sent / 1300);
      const p::Probe previous = probe;
      probe = rc.probe(now, sent);
      double worst = 0;
      for (std::size_t h = 0; h < hosts; ++h) {
        std::binomial_distribution<std::uint32_t> got(expected, 1.0 - loss(h, rate));
        const std::uint32_t received = got(rng);
        const auto lost = static_cast<std::uint16_t>(
            p::kLossScale - std::uint64_t{received} * p::kLossScale / std::max(1u, expected));
        worst = std::max(worst, static_cast<double>(lost) / p::kLossScale);
        if (lost >= probe.threshold || probe.limiting == p::KeyId{h + 1}) {
          rc.on_report(h,
                       p::LossReport{1, probe.probe, 0, lost, expected, received, previous.probe});
        }
      }
      worst_sum += worst;
    }
    return worst_sum / n;
  }
};

Fleet make(RateConfig c, std::size_t hosts, std::function<double(std::size_t, std::uint64_t)> l) {
  return Fleet(c, hosts, std::move(l));
}

RateConfig adaptive(std::uint64_t ceiling_mbit = 0) {
  RateConfig c;
  c.ceiling = ceiling_mbit * kMbit;
  return c;
}

// A link of `mbit` Mbit/s towards host 0: what exceeds it is lost.
auto link(std::uint64_t mbit) {
  return [mbit](std::size_t h, std::uint64_t rate) {
    const double cap = static_cast<double>(mbit * kMbit);
    return h == 0 && static_cast<double>(rate) > cap ? 1.0 - cap / static_cast<double>(rate) : 0.0;
  };
}

// Nobody loses: slow start takes the rate up to the ceiling and it stays there.
TEST(RateControl, RisesToTheCeilingWhileNobodyLoses) {
  auto f = make(adaptive(1000), 8, [](std::size_t, std::uint64_t) { return 0.0; });
  EXPECT_EQ(f.rc.rate(), 100 * kMbit);
  f.run(30);
  EXPECT_EQ(f.rc.rate(), 1000 * kMbit);
  EXPECT_EQ(f.rc.stats().decreases, 0u);
  EXPECT_NE(f.rc.reason().find("up"), std::string::npos) << f.rc.reason();
}

// One host behind a 50 Mbit/s link among 8: the rate settles around what it takes, and the
// losses of that host stay small once it has.
TEST(RateControl, FollowsASlowHostsLink) {
  auto f = make(adaptive(), 8, link(50));
  f.run(20);
  const double late = f.run(100);
  EXPECT_GT(f.rc.stats().decreases, 0u);
  EXPECT_EQ(f.rc.stats().restores, 0u) << "a full link is congestion";
  for (std::size_t i = f.rates.size() - 100; i < f.rates.size(); ++i) {
    EXPECT_GE(f.rates[i], 30 * kMbit);
    EXPECT_LE(f.rates[i], 65 * kMbit);
  }
  EXPECT_LT(late, 0.05) << "mean worst loss once settled";
  EXPECT_NE(f.rc.reason().find_first_of("uhd"), std::string::npos);
}

// 20 % random loss on every host, whatever the rate: the decreases it causes are tested and
// undone, and the rate climbs to the ceiling anyway.
TEST(RateControl, RandomLossIsNotCongestion) {
  auto f = make(adaptive(800), 8, [](std::size_t, std::uint64_t) { return 0.2; });
  f.run(60);
  EXPECT_GT(f.rc.stats().restores, 0u);
  EXPECT_EQ(f.rc.rate(), 800 * kMbit) << f.rc.reason();
}

// Random loss on a host that also sits behind a slow link: its usual loss is learned, and
// the link still holds the rate down.
TEST(RateControl, RandomLossAndASlowLink) {
  auto f = make(adaptive(), 4, [](std::size_t h, std::uint64_t rate) {
    const double random = 0.05;
    return 1.0 - (1.0 - random) * (1.0 - link(80)(h, rate));
  });
  f.run(120);
  for (std::size_t i = f.rates.size() - 40; i < f.rates.size(); ++i) {
    EXPECT_LE(f.rates[i], 110 * kMbit);
    EXPECT_GE(f.rates[i], 40 * kMbit);
  }
}

// Never below the floor, even for a host that loses nearly everything.
TEST(RateControl, NeverBelowTheFloor) {
  RateConfig c = adaptive();
  c.floor = 10 * kMbit;
  auto f = make(c, 2, link(1));
  f.run(60);
  for (std::uint64_t r : f.rates) EXPECT_GE(r, 10 * kMbit);
  EXPECT_EQ(f.rc.rate(), 10 * kMbit);
  EXPECT_NE(f.rc.reason().find("floor"), std::string::npos) << f.rc.reason();
}

// A fixed rate ignores every report and sends no probes.
TEST(RateControl, FixedRateStaysFixed) {
  RateConfig c;
  c.fixed = true;
  c.ceiling = 300 * kMbit;
  RateControl rc(c, {"r1"}, {p::KeyId{1}});
  EXPECT_EQ(rc.next_probe(), Clock::time_point::max());
  rc.on_report(0, p::LossReport{1, 1, 0, 9000, 1000, 100, 0});
  EXPECT_EQ(rc.rate(), 300 * kMbit);
  EXPECT_FALSE(rc.adaptive());
}

// The host that held the rate and then went silent (its probe or report lost, or it is
// stalled) keeps holding it: its silence is not taken for good news.
TEST(RateControl, ASilentLimitingHostHoldsTheRate) {
  RateControl rc(adaptive(), {"r1", "r2"}, {p::KeyId{1}, p::KeyId{2}});
  Clock::time_point t{};
  const auto sent = [&] { return rc.rate() * 15 / 100; };  // at the rate for 150 ms
  (void)rc.probe(t, 0);
  t = rc.next_probe();
  const auto second = rc.probe(t, sent());
  rc.on_report(0, p::LossReport{1, second.probe, 0, 100, 1000, 990, 1});  // 1 %: hold
  t = rc.next_probe();
  const auto third = rc.probe(t, sent());
  EXPECT_EQ(third.limiting, p::KeyId{1}) << "the probe names the host that held the rate";
  EXPECT_EQ(rc.reason(), "hold: r1 lost 1.0 %");
  t = rc.next_probe();
  (void)rc.probe(t, sent());  // no report from r1 for the third probe
  EXPECT_EQ(rc.reason(), "hold: no report from r1");
  EXPECT_EQ(rc.rate(), 100 * kMbit);
}

}  // namespace
}  // namespace fleetcast::sender
