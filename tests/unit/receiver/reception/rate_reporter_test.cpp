// A host's answers to the rate probes (receiver/reception/rate_reporter.hpp): when it reports,
// and when it may stay silent because its report would repeat the last one (Probe::quiet).
#include "receiver/reception/rate_reporter.hpp"

#include <gtest/gtest.h>

namespace fleetcast::receiver {
namespace {

namespace p = protocol;

// One host of a session; each interval the manager sends 1,000 data packets and a probe.
struct Host {
  RateReporter reporter;
  std::uint32_t probe = 0;
  std::uint32_t sequence = 0;
  Clock::time_point now{};
  std::uint8_t quiet = 8;
  p::KeyId limiting{};

  Host() { read_probe(100'000); }
  void read_probe(std::uint32_t rate_kbit) {
    p::Probe pr;
    pr.file_id = 1;
    pr.probe = ++probe;
    pr.next_sequence = sequence;
    pr.rate_kbit = rate_kbit;
    pr.threshold = 25;
    pr.limiting = limiting;
    pr.quiet = quiet;
    now += std::chrono::milliseconds(150);
    reporter.on_probe(
        pr, 1, p::KeyId{7}, [](Clock::duration) { return Clock::duration{}; }, now);
  }
  // An interval at `rate_kbit` in which this host lost `lost` of the 1,000 packets: its
  // report, if it sends one.
  std::optional<p::LossReport> interval(std::uint32_t lost, std::uint32_t rate_kbit = 100'000) {
    for (std::uint32_t i = 0; i < 1000 - lost; ++i) reporter.on_packet();
    sequence += 1000;
    read_probe(rate_kbit);
    return reporter.due(now);
  }
};

TEST(RateReporter, WithoutQuietEveryLossAtTheThresholdIsReported) {
  Host h;
  h.quiet = 0;
  for (int i = 0; i < 20; ++i) {
    const auto r = h.interval(50);
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->loss, 500);
    EXPECT_EQ(r->expected, 1000u);
    EXPECT_EQ(r->received, 950u);
  }
  EXPECT_FALSE(h.interval(2)) << "0.2 %: below the threshold";
}

// A steady 5 %: told twice (a first report is a change), then once every quiet + 1 probes.
TEST(RateReporter, ASteadyLossIsToldTwiceThenRefreshedAfterQuietProbes) {
  Host h;
  std::vector<int> reported;
  for (int i = 0; i < 30; ++i) {
    if (h.interval(i % 2 == 0 ? 48 : 52)) reported.push_back(i);  // within chance of 5 %
  }
  EXPECT_EQ(reported, (std::vector<int>{0, 1, 10, 19, 28}));
}

TEST(RateReporter, ALossThatChangesIsReportedTwice) {
  Host h;
  for (int i = 0; i < 5; ++i) h.interval(50);
  ASSERT_FALSE(h.interval(50));
  const auto r = h.interval(150);  // 15 %: far beyond chance of 5 % over 1,000 packets
  ASSERT_TRUE(r);
  EXPECT_EQ(r->loss, 1500);
  EXPECT_TRUE(h.interval(150)) << "a change goes twice: the first may be lost";
  EXPECT_FALSE(h.interval(150));
}

TEST(RateReporter, ALossThatWentAwayIsReported) {
  Host h;
  for (int i = 0; i < 5; ++i) h.interval(50);
  const auto r = h.interval(0);
  ASSERT_TRUE(r) << "the manager would repeat 5 % for this host";
  EXPECT_EQ(r->loss, 0);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(h.interval(0)) << i;
}

// After a decrease the manager tests whether each host's loss followed the rate: a host
// reports at a rate 10 % lower than the one it last told, even when its loss held.
TEST(RateReporter, TheSameLossAtALowerRateIsReported) {
  Host h;
  for (int i = 0; i < 5; ++i) h.interval(50);
  EXPECT_FALSE(h.interval(50, 85'000)) << "(this interval still ran at 100 Mbit/s)";
  EXPECT_TRUE(h.interval(50, 85'000)) << "the first interval at 85 Mbit/s";
  EXPECT_FALSE(h.interval(50, 85'000));
  EXPECT_FALSE(h.interval(50, 200'000)) << "a higher rate: the silence says the same";
  EXPECT_FALSE(h.interval(50, 170'000)) << "(this interval ran at 200 Mbit/s)";
  EXPECT_TRUE(h.interval(50, 170'000)) << "170 Mbit/s: above the rate it told, below the last";
}

TEST(RateReporter, TheNamedHostReportsWhateverItsLoss) {
  Host h;
  for (int i = 0; i < 5; ++i) h.interval(50);
  h.limiting = p::KeyId{7};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(h.interval(i == 4 ? 0 : 50)) << i;
}

}  // namespace
}  // namespace fleetcast::receiver
