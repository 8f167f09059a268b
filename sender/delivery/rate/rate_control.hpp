#pragma once
// The manager's data rate, driven by the loss the hosts report (protocol::Probe / LossReport).
//
// While it streams, the session sends a PROBE every interval (150 ms to 1 s: at least 100
// packets at the current rate, or at what was really sent when less). From kQuietHosts hosts
// a host whose loss holds may skip reports (protocol::Probe::quiet): its silence repeats its
// last report. A host measures its loss between two probes from sequence
// numbers and answers a probe when that loss reaches the probe's threshold, or when its receive
// buffer is a quarter full (protocol::kBacklogReport). When the session sends probe n it closes
// the interval that ended at probe n-1 (whose reports have arrived) and decides the rate from
// it; the interval between n-1 and n is still in flight. A late report (of a probe up to 32
// back: a host behind reads its probes late) counts in the interval deciding next, at the rate
// of the intervals it covers.
//
// The control law (protocol/README.md "Rate adaptation" compares it with TFMCC and NORM-CC):
//   excess(h) = loss(h) - base(h) - z sigma   base: the loss host h shows whatever the rate
//                                     (not known yet: the fleet's, where the known agree);
//                                     sigma: of a random loss base over the report's packets;
//                                     z: how far chance reaches among N hosts (3 for a few,
//                                     4.3 for 1,000); a report within it moves the base by 1/8
//   worst     = max excess over the hosts that reported (others lost less than the threshold)
//   worst >= 2 %    down: to rate x (1 - worst) x 0.85 (what the worst host took, with a
//                   margin), at least halved, at most -12.5 %; only when the interval ran at
//                   the current rate or above and ended after the last decrease took effect
//                   (one decrease per congestion event, also for a late report). The hosts'
//                   losses are kept: the next interval at the lower rate tests them.
//   test            the first report of each such host (one whose report of that interval
//                   was lost: its report of one of the 3 before) that covers only time at the
//                   lower rate (a host that misses probes reports over several intervals; up to 3
//                   more intervals are waited for): a full link or a busy host loses less at
//                   a lower rate; a host whose loss stayed where it was (within 1.5 points or
//                   z standard deviations of a random loss) although the rate fell by at least
//                   1/10 lost packets for another reason than the rate (a lossy link, its own input
//                   drop): its loss becomes its base. The rate set before it (not what the
//                   manager sent, less when it was bound by its CPU) is restored when the
//                   host that caused the decrease is one of those, no host's loss fell beyond
//                   z sigma, and at most half of the hosts tested were not heard at the lower
//                   rate (at 300 hosts losing 5 % each way some always go unheard)
//   mild            0.5 % < worst < 2 %: hold, and when the same host's mild loss persists into
//                   the next interval, x1.15 to test it: a report over an interval at >= 1.1 x
//                   the rate it was seen at, within z sigma of it, makes it the host's base; a
//                   loss that grew (near what that host takes) stops mild tests at that rate
//                   until the next decrease
//   worst <= 0.5 %  up, unless the manager could not send at the rate (it is CPU- or
//                   round-bound) or a host's report is missing or just had loss: x2 per
//                   interval until the first decrease (slow start: a short push ends before
//                   x1.25 has climbed), x1.25 beyond 1.1 x the rate of the last decrease;
//                   x1.1 below 0.9 x that rate; in between, where the hosts began to lose,
//                   + 1 % of it per interval
//   behind          a host's receive buffer >= 50 % full and fuller than in the interval before
//                   (>= 25 % then): down to what it read per second x 0.85, by 1/8 to 3/4;
//                   no test. First seen full (a stall), emptying, or >= 25 %: hold
//   app-limited     the manager sent below 80 % of the rate: hold, and after the first decrease
//                   down to max(1.5 x what it sent, the rate of the last decrease)
//   otherwise       hold
// never below the floor, never above the ceiling (--rate). A fixed rate (--fixed-rate) skips
// all of it: the ceiling is the rate (0: unlimited) and the probes are not sent.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocol/clock.hpp"
#include "protocol/data.hpp"
#include "sender/delivery/rate/sent_history.hpp"

namespace fleetcast::sender {

using Clock = fleetcast::Clock;

struct RateConfig {
  bool fixed = false;
  std::uint64_t ceiling = 0;          // bytes/s; 0: none (fixed: unlimited)
  std::uint64_t start = 12'500'000;   // bytes/s (100 Mbit/s), clamped to floor..ceiling
  std::uint64_t floor = 125'000;      // bytes/s (1 Mbit/s)
  std::uint64_t packet_bytes = 1300;  // wire bytes of a typical data packet (interval length)
  // Per host (in the order of the names), the loss it showed whatever the rate in an earlier
  // session (per kLossScale): its base from the start, so that loss is not taken for
  // congestion and tested again. Empty: none known.
  std::vector<std::int32_t> bases;
};

// A fixed rate, unlimited (the ceiling 0).
inline RateConfig fixed_rate() {
  RateConfig c;
  c.fixed = true;
  return c;
}

// Thresholds of the law, per kLossScale.
inline constexpr std::uint16_t kCongestedLoss = 200;  // 2 %
inline constexpr std::uint16_t kQuietLoss = 50;       // 0.5 %
inline constexpr std::uint16_t kReportLoss = 25;      // hosts report from 0.25 %
// From this many hosts, a host whose loss holds skips up to kQuietProbes reports in a row: 300
// hosts losing 5 % each sent 300 reports per interval, which cost a 2-core bed a quarter of a
// 16 MiB push.
inline constexpr std::size_t kQuietHosts = 32;
inline constexpr std::uint8_t kQuietProbes = 8;
// Intervals with fewer packets than this say nothing about loss.
inline constexpr std::uint32_t kMinReportPackets = 50;

struct RateStats {
  std::uint32_t probes = 0;
  std::uint32_t reports = 0;  // LOSS-REPORTs taken
  std::uint32_t decreases = 0;
  std::uint32_t restores = 0;  // decreases undone: the loss was not the rate's
  std::uint64_t min_rate = 0, max_rate = 0;
};

class RateControl {
 public:
  // names and keys: the session's hosts, by index (names for the reasons, keys for the probes).
  RateControl(RateConfig config, std::vector<std::string> names, std::vector<protocol::KeyId> keys);

  bool adaptive() const { return !config_.fixed; }
  // Bytes per second from now on; 0: unlimited.
  std::uint64_t rate() const { return rate_; }
  // Why the rate is what it is ("up: no host lost more than 0.5 %", "down: r3 lost 8.1 % at
  // 212 Mbit/s", ...).
  const std::string& reason() const { return reason_; }
  const RateStats& stats() const { return stats_; }
  // Each host's loss over the last interval decided (fractions, by host index; 0 for a host
  // that did not report: it lost less than the report threshold); empty before the first.
  const std::vector<double>& recent_losses() const { return recent_losses_; }
  // The highest rate of an interval every host took (no loss beyond its base, no receive
  // buffer filling) while the manager sent at that rate: what the next session with these
  // hosts may start at (bytes/s; 0: none shown). And each host's base now.
  std::uint64_t shown() const { return shown_; }
  const std::vector<std::int32_t>& bases() const { return base_; }

  // When the next probe is due; max() when fixed.
  Clock::time_point next_probe() const { return next_probe_; }
  // The session sends a probe now, `sent` wire bytes after the previous one: the rate is
  // decided from the interval before, and the probe to send is returned (file ID and sequence
  // filled in by the caller).
  protocol::Probe probe(Clock::time_point now, std::uint64_t sent);
  // Streaming starts again (a new round): the next probe is due now and only opens an interval.
  void resume();
  // A host's report (its MAC checked by the caller).
  void on_report(std::size_t host, const protocol::LossReport& report);

 private:
  struct Sample {
    std::int32_t loss = -1;  // per kLossScale; -1: no report (below the threshold, or lost)
    std::uint32_t since = 0;
    std::uint32_t until = 0;  // the probe that ended the last interval it covers
    std::uint32_t expected = 0;
    std::uint64_t rate = 0;     // the highest rate of the intervals the report covers
    std::uint16_t backlog = 0;  // how full its receive buffer was, per kLossScale
    std::uint64_t took = 0;     // bytes per second it read then (0: not known)
    // Not reported: the host's last report, repeated by its silence (protocol::Probe::quiet).
    bool echo = false;
  };
  struct Interval {
    std::uint32_t probe = 0;      // the probe that ended it
    std::uint64_t rate = 0;       // the rate it ran at
    bool app_limited = false;     // the manager sent well below that rate
    std::vector<Sample> samples;  // per host
  };
  // Each host that skipped its report (protocol::Probe::quiet) gets its last one repeated.
  void echo_quiet(Interval& i) const;
  void decide(const Interval& done);
  // The parts of decide(), in its order (the law in the header comment above).
  void update_bases(const Interval& done);
  void congested(const Interval& done, std::int32_t worst, std::size_t who);
  bool fell_behind(const Interval& done, const std::vector<std::uint16_t>& backlog_before);
  bool holds(const Interval& done, std::int32_t worst, std::size_t who, bool limiting_silent);
  void test_mild(const Interval& done);
  bool raise_for_mild(const Interval& done, std::size_t who);
  void increase();
  // The base a report of host h is judged against: its own when known, else the prior; and
  // while there is a prior, not below it (a base learned from two reports of 100 packets is off
  // by a point or two: 5 % hosts learned 2.4-3.8 %, then held or cut the rate at chance
  // outliers of 9-12 %, where the prior explains them).
  std::int32_t base_of(std::size_t h) const {
    return known_[h] ? std::max(base_[h], prior_) : prior_;
  }
  void learn(const Interval& done);
  // A report's loss beyond the host's base and what chance explains (0 or less: none).
  std::int32_t excess(std::size_t host, const Sample& s) const;
  // The largest excess among the hosts that reported in `i`, and whose (SIZE_MAX: none).
  std::pair<std::int32_t, std::size_t> worst_excess(const Interval& i) const;
  // The fullest receive buffer among the hosts that reported in `i`, and whose.
  std::pair<std::uint16_t, std::size_t> fullest(const Interval& i) const;
  void set_rate(std::uint64_t r, std::string why);
  // A decrease to `to`; `congestion`: the rate where the hosts began to lose (the increase is
  // gentle near it).
  void decrease(std::uint64_t to, std::uint64_t congestion, std::string why);
  Clock::duration interval_length() const;
  std::string describe(std::size_t host, std::int32_t loss) const;
  // The test of the last decrease, from `done`: true when it decided the rate (restored the
  // one before, or waits).
  bool conclude_test(const Interval& done);

  RateConfig config_;
  std::vector<std::string> names_;
  std::vector<protocol::KeyId> keys_;
  // Probes a host whose loss holds may skip in a row (protocol::Probe::quiet): 0 below
  // kQuietHosts hosts, where a report per host per interval costs little.
  std::uint8_t quiet_;
  double z_;  // standard deviations of a random loss that chance reaches among these hosts
  std::vector<std::int32_t> base_;  // per host, per kLossScale
  // Per host: whether its base is known (learned in a test, stored, or the host stayed below
  // the report threshold for kKnownQuiet intervals in a row), and for how many it has.
  std::vector<bool> known_;
  std::vector<std::uint32_t> silent_;
  // The base of a host whose own is not known yet: the median of the known ones once half the
  // hosts' are known and most agree (0 otherwise). Hosts on alike lines lose alike: at first
  // contact with 300
  // hosts losing 5 %, one test learns most bases, and the others' chance outliers (11 % over
  // 100 packets) each cost another decrease and test without it.
  std::int32_t prior_ = 0;
  std::vector<std::uint16_t> backlog_;  // per host: its receive buffer in the interval before
  std::uint64_t rate_ = 0;
  std::string reason_;
  RateStats stats_;

  std::uint32_t probe_ = 0;  // probes sent
  Clock::time_point last_probe_{};
  Clock::time_point next_probe_ = Clock::time_point::max();
  // The interval that ended at the last probe: its reports arrive until the next probe.
  std::optional<Interval> pending_;
  bool resumed_ = false;
  bool slow_start_ = true;
  std::uint64_t congestion_rate_ = 0;  // rate of the last decrease
  // The decrease being tested: the interval it was decided from, and the rate before it.
  struct Test {
    Interval before;            // the interval the decrease was decided from
    std::vector<Sample> after;  // per host: its loss at the lower rate
    std::vector<bool> clean;    // that report covers only time at the lower rate
    bool slow_start = false;
    std::uint64_t congestion_rate = 0;
    std::uint32_t decided = 0;  // the probe at which the rate went down
    std::uint32_t probe = 0;    // the first interval at the lower rate ends at this probe
    std::size_t who = 0;        // the host whose loss caused it
    // The rate before the decrease: what a restore goes back to (the interval's own rate is what
    // the manager really sent, below it when the manager was bound by its CPU).
    std::uint64_t rate = 0;
  };
  SentHistory sent_;
  std::optional<Test> test_;
  std::size_t limiting_ = SIZE_MAX;  // the host whose loss held or cut the rate last
  std::uint32_t last_loss_ = 0;      // the last interval in which a host lost more than 0.5 %
  std::vector<double> recent_losses_;
  // Intervals up to this probe ran (at least in part) before the last decrease took effect:
  // a loss in them was answered by it, however far the rate rose before.
  std::uint32_t answered_until_ = 0;
  std::uint64_t shown_ = 0;
  // Per host: the report of a mild loss that persists, at the rate it was seen at (loss -1:
  // none), until a report at a rate >= 1.1 x that tells whether it follows the rate.
  std::vector<Sample> mild_;
  std::vector<Sample> last_;      // per host: its last report (loss -1: none yet)
  std::uint64_t mild_limit_ = 0;  // a mild loss grew at this rate (0: none since the last decrease)
};

// "212 Mbit/s", "1.5 Gbit/s", "unlimited".
std::string format_rate(std::uint64_t bytes_per_second);

}  // namespace fleetcast::sender
