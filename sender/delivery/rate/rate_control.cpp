#include "sender/delivery/rate/rate_control.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr auto kMinInterval = std::chrono::milliseconds(150);
constexpr auto kMaxInterval = std::chrono::seconds(1);
constexpr auto kMaxReportWindow = std::chrono::milliseconds(50);
constexpr double kIntervalPackets = 100;
constexpr double kSlowStart = 2.0;           // per interval until the first decrease
constexpr double kAboveCongestion = 1.25;    // per interval well above the last decrease
constexpr double kMildStep = 1.15;           // a persisting mild loss is tested this much higher
constexpr double kMildTold = 1.1;            // a report at this much the rate tells it
constexpr double kStep = 0.01;               // of the last decrease's rate, per interval, near it
constexpr double kMargin = 0.85;             // below what the worst host took
constexpr double kMaxCut = 0.5;              // a decrease at least keeps half
constexpr double kMinCut = 0.875;            // and takes at least 1/8
constexpr std::uint32_t kLateProbes = 32;    // reports of older probes still taken
constexpr std::uint16_t kBehind = 5000;      // a receive buffer half full: falling behind
constexpr double kMaxBehindCut = 0.75;       // a host falling behind cuts at most 3/4
constexpr std::uint32_t kTestIntervals = 3;  // a decrease is tested over at most this many
constexpr std::uint32_t kKnownQuiet = 8;     // intervals without a report: a base of 0 is known
constexpr std::int32_t kAlike = 300;         // bases within 3 points: the hosts lose alike
constexpr std::int32_t kSameLoss = 150;      // 1.5 %: within this, a loss did not change
constexpr double kValidated = 1.5;           // of what an app-limited interval sent, at most
constexpr std::size_t kValidatedIntervals = 8;  // ... the most of this many
constexpr double kAppLimited = 0.8;        // sent below 80 % of the rate: the rate did not bind
constexpr std::int32_t kBaseWeight = 8;    // a base moves by 1/8 towards a usual report
constexpr double kChanceFalseAlarm = 0.1;  // per interval, over all hosts (chance_reach)

std::string percent(std::int32_t loss) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", static_cast<double>(loss) * 100 / p::kLossScale);
  return buf;
}

// How many standard deviations chance reaches in one interval among `hosts` hosts whose loss is
// random: the largest of n independent normal draws passes sqrt(2 ln(n / a)) with a probability
// of about a (here 10 %). Three for a few hosts; 4.0 for 300, 4.3 for 1,000. Judged one by one at
// three, 300 hosts would show "more than usual" somewhere in every third interval.
double chance_reach(std::size_t hosts) {
  return std::max(3.0, std::sqrt(2 * std::log(static_cast<double>(std::max<std::size_t>(hosts, 1)) /
                                              kChanceFalseAlarm)));
}

}  // namespace

std::string format_rate(std::uint64_t bytes_per_second) {
  if (bytes_per_second == 0) return "unlimited";
  const double bits = static_cast<double>(bytes_per_second) * 8;
  char buf[32];
  if (bits >= 1e9) {
    std::snprintf(buf, sizeof buf, "%.2f Gbit/s", bits / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f Mbit/s", bits / 1e6);
  }
  return buf;
}

RateControl::RateControl(RateConfig config, std::vector<std::string> names,
                         std::vector<p::KeyId> keys)
    : config_(config),
      names_(std::move(names)),
      keys_(std::move(keys)),
      quiet_(names_.size() >= kQuietHosts ? kQuietProbes : 0),
      z_(chance_reach(names_.size())) {
  base_.assign(names_.size(), 0);
  known_.assign(names_.size(), false);
  silent_.assign(names_.size(), 0);
  if (config_.bases.size() == names_.size()) {
    for (std::size_t h = 0; h < base_.size(); ++h) {
      base_[h] = std::clamp<std::int32_t>(config_.bases[h], 0, p::kLossScale / 2);
      known_[h] = base_[h] > 0;
    }
  }
  backlog_.assign(names_.size(), 0);
  mild_.assign(names_.size(), Sample{});
  last_.assign(names_.size(), Sample{});
  if (config_.fixed) {
    rate_ = config_.ceiling;
    reason_ = config_.ceiling == 0 ? "fixed: unlimited" : "fixed (--fixed-rate)";
    next_probe_ = Clock::time_point::max();
  } else {
    config_.floor = std::max<std::uint64_t>(config_.floor, 1);
    if (config_.ceiling != 0) config_.floor = std::min(config_.floor, config_.ceiling);
    rate_ = std::max(config_.start, config_.floor);
    if (config_.ceiling != 0) rate_ = std::min(rate_, config_.ceiling);
    reason_ = "start";
    next_probe_ = Clock::time_point::min();  // the first probe opens the first interval
  }
  stats_.min_rate = stats_.max_rate = rate_;
}

// 100 packets at the rate, or at what the manager really sent in the last interval when that
// was less: a manager bound by its CPU (1,000 hosts on 2 cores send 0.4-1 Mbit/s) would
// otherwise end intervals of 150 ms with 30 packets, too few for a loss (kMinReportPackets),
// and its rate would go blind.
Clock::duration RateControl::interval_length() const {
  double pace = static_cast<double>(std::max<std::uint64_t>(rate_, 1));
  if (sent_.last_rate() > 0) pace = std::min(pace, std::max(1.0, sent_.last_rate()));
  const double seconds = kIntervalPackets * static_cast<double>(config_.packet_bytes) / pace;
  const auto d =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  return std::clamp<Clock::duration>(d, kMinInterval, kMaxInterval);
}

std::string RateControl::describe(std::size_t host, std::int32_t loss) const {
  std::string s = names_[host];
  s += " lost ";
  s += percent(loss);
  if (known_[host] && base_[host] > 0) {
    s += " (";
    s += percent(base_[host]);
    s += " whatever the rate)";
  } else if (!known_[host] && prior_ > 0) {
    s += " (most hosts ";
    s += percent(prior_);
    s += ")";
  }
  return s;
}

void RateControl::set_rate(std::uint64_t r, std::string why) {
  r = std::max(r, config_.floor);
  if (config_.ceiling != 0 && r >= config_.ceiling) {
    r = config_.ceiling;
    why += "; at the ceiling (--rate)";
  }
  if (r == config_.floor) why += "; at the floor (--rate-floor)";
  rate_ = r;
  reason_ = std::move(why);
  stats_.min_rate = std::min(stats_.min_rate, rate_);
  stats_.max_rate = std::max(stats_.max_rate, rate_);
}

void RateControl::decrease(std::uint64_t to, std::uint64_t congestion, std::string why) {
  ++stats_.decreases;
  mild_limit_ = 0;
  slow_start_ = false;
  congestion_rate_ = congestion;
  set_rate(to, std::move(why));
}

p::Probe RateControl::probe(Clock::time_point now, std::uint64_t sent) {
  p::Probe out;
  if (config_.fixed) return out;
  ++stats_.probes;
  if (probe_ > 0 && !resumed_) {
    // The interval that ends now: what the manager really sent in it (at most the rate: it
    // may be bound by its CPU, or the round ended), which is what the hosts' loss answers.
    Interval ended{probe_ + 1, rate_, false, std::vector<Sample>(names_.size())};
    const double seconds = std::chrono::duration<double>(now - last_probe_).count();
    if (seconds > 0) {
      ended.rate = std::min(rate_, static_cast<std::uint64_t>(static_cast<double>(sent) / seconds));
    }
    ended.app_limited = seconds > 0 && static_cast<double>(sent) / seconds <
                                           kAppLimited * static_cast<double>(rate_);
    sent_.add(ended.probe, static_cast<double>(sent), seconds);
    // Decided from: the interval before it, ended by the previous probe, whose reports had
    // the time of a whole interval to arrive (the report window is at most a third of it).
    if (pending_) {
      echo_quiet(*pending_);
      decide(*pending_);
    }
    pending_ = std::move(ended);
  }
  ++probe_;
  resumed_ = false;
  last_probe_ = now;
  const auto length = interval_length();
  next_probe_ = now + length;
  out.probe = probe_;
  out.rate_kbit = static_cast<std::uint32_t>(std::min<std::uint64_t>(rate_ * 8 / 1000, UINT32_MAX));
  out.threshold = kReportLoss;
  out.quiet = quiet_;
  if (limiting_ < keys_.size()) out.limiting = keys_[limiting_];
  out.report_window_ms =
      static_cast<std::uint16_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::min<Clock::duration>(kMaxReportWindow, length / 3))
                                     .count());
  return out;
}

void RateControl::resume() {
  if (config_.fixed) return;
  resumed_ = true;  // the time since the last probe was spent waiting for NAKs
  pending_.reset();
  next_probe_ = Clock::time_point::min();
}

void RateControl::on_report(std::size_t host, const p::LossReport& r) {
  if (config_.fixed || host >= names_.size()) return;
  // A report of an older probe comes from a host that lags behind the data (a deep socket
  // buffer drained after a stall): its loss still counts, in the interval deciding next.
  if (!pending_ || r.expected < kMinReportPackets || r.probe > pending_->probe ||
      r.probe + kLateProbes < pending_->probe) {
    return;
  }
  Interval* i = &*pending_;
  Sample& s = i->samples[host];
  ++stats_.reports;
  // What the manager sent per second over the intervals the report covers (a host that missed
  // probes reports over several). Not capped at the pending interval's rate: a late report's
  // loss happened at the rate of its own intervals, which a decrease since may have answered.
  const auto [bytes, seconds] = sent_.over(r.since, r.probe);
  const std::uint64_t rate = seconds > 0 ? static_cast<std::uint64_t>(bytes / seconds) : i->rate;
  if (r.backlog >= s.backlog) {
    s.backlog = r.backlog;
    // What it read per second, as a share of what was sent per second then.
    s.took = r.elapsed_ms > 0 && seconds > 0 && r.expected > 0
                 ? static_cast<std::uint64_t>(static_cast<double>(rate) * r.received * seconds /
                                              (r.expected * (r.elapsed_ms / 1000.0)))
                 : 0;
  }
  if (r.probe != i->probe && s.loss >= r.loss) return;  // keep the worse of two
  s.loss = r.loss;
  s.since = r.since;
  s.until = r.probe;
  s.expected = r.expected;
  s.rate = rate;
}

std::int32_t RateControl::excess(std::size_t h, const Sample& s) const {
  const std::int32_t base = base_of(h);
  const std::int32_t chance = base > 0 ? p::loss_noise(z_, base, s.expected, 0) : 0;
  return s.loss - base - chance;
}

std::pair<std::int32_t, std::size_t> RateControl::worst_excess(const Interval& i) const {
  std::int32_t worst = 0;
  std::size_t who = SIZE_MAX;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    if (i.samples[h].loss < 0) continue;
    const std::int32_t e = excess(h, i.samples[h]);
    if (who == SIZE_MAX || e > worst) {
      worst = e;
      who = h;
    }
  }
  return {worst, who};
}

std::pair<std::uint16_t, std::size_t> RateControl::fullest(const Interval& i) const {
  std::uint16_t most = 0;
  std::size_t who = SIZE_MAX;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    if (i.samples[h].loss >= 0 && i.samples[h].backlog > most) {
      most = i.samples[h].backlog;
      who = h;
    }
  }
  return {most, who};
}

bool RateControl::conclude_test(const Interval& done) {
  Test& t = *test_;
  // Each host's first report that covers only time at the lower rate; after the last interval
  // the test waits for, the last report it sent at all.
  const bool last = done.probe >= t.probe + kTestIntervals - 1;
  bool missing = false;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    if (t.before.samples[h].loss < kCongestedLoss || t.clean[h]) continue;
    const Sample& s = done.samples[h];
    if (s.loss >= 0 && !s.echo) {  // each host reports at a rate that fell (Probe::quiet)
      t.after[h] = s;
      t.clean[h] = s.since >= t.decided;
    }
    missing = missing || !t.clean[h];
  }
  if (missing && !last) {
    reason_ = "hold: measuring the loss at the lower rate";
    return true;
  }
  // Each host that lost >= 2 % before: its loss at the lower rate stayed (a base), followed the
  // rate, or is not known (no report there: its probe or report was lost, which at 300 hosts
  // losing 5 % each way happens to some host in every interval, or it lost less than the
  // threshold, which the host that caused the decrease, named in the probes, reports anyway).
  std::vector<std::pair<std::size_t, std::int32_t>> bases;
  std::size_t high = 0, unknown = 0;
  bool followed = false, trigger = false;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    const Sample& before = t.before.samples[h];
    const Sample& after = t.after[h];
    if (before.loss < kCongestedLoss) continue;
    ++high;
    if (after.loss < 0) {
      ++unknown;
      continue;
    }
    const double predicted = static_cast<double>(before.rate) /
                             static_cast<double>(std::max<std::uint64_t>(after.rate, 1));
    if (predicted < 1.1) continue;  // the rate did not fall enough to tell
    // A full link loses less at a lower rate; loss that stays where it was (within 1.5
    // points, or what chance explains over that many packets) is not the rate's.
    const std::int32_t tolerance =
        p::loss_noise(z_, before.loss, std::min(before.expected, after.expected), kSameLoss);
    // And clearly not what a full link would give: as many packets per second as before, so a
    // share grown by the rate's ratio (near 100 % loss both give nearly the same loss: the
    // packets a host still takes tell them apart), less three standard deviations.
    const double share_before = 1.0 - static_cast<double>(before.loss) / p::kLossScale;
    const double share_after = 1.0 - static_cast<double>(after.loss) / p::kLossScale;
    const double full = std::min(0.999, share_before * predicted);
    const double spread =
        3 * std::sqrt(full * (1 - full) / std::max(1.0, static_cast<double>(after.expected)));
    if (std::abs(after.loss - before.loss) <= tolerance && share_after < full - spread) {
      bases.emplace_back(h, (before.loss + after.loss) / 2);
      trigger = trigger || h == t.who;
    } else if (after.loss < before.loss - tolerance) {
      followed = true;  // (beyond what chance explains among these hosts)
    }
  }
  const Test ended = std::move(t);
  test_.reset();
  for (const auto& [h, loss] : bases) {
    base_[h] = std::max(base_[h], loss);
    known_[h] = true;
  }
  // Restored when the host that caused the decrease lost as much at the lower rate, no host's
  // loss followed the rate, and most hosts that lost before are known.
  if (!trigger || followed || 2 * unknown > high) return false;
  ++stats_.restores;
  slow_start_ = ended.slow_start;
  congestion_rate_ = ended.congestion_rate;
  limiting_ = SIZE_MAX;
  set_rate(ended.rate, "restored: " + describe(ended.who, ended.after[ended.who].loss) +
                           " at the lower rate too, not congestion");
  return true;
}

// A host may skip a report that would repeat its last one, for up to quiet_ probes; the host
// named in the probes reports whatever its loss (its missing report was lost), so it gets no
// echo: decide() reads its silence as `limiting_silent`, a loss not known to have fallen.
void RateControl::echo_quiet(Interval& i) const {
  if (quiet_ == 0) return;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    const Sample& told = last_[h];
    if (i.samples[h].loss >= 0 || h == limiting_ || told.loss < 0 ||
        told.until + quiet_ < i.probe) {
      continue;
    }
    // Over this interval, at its rate; its buffer below the report level (or it would report).
    i.samples[h] = Sample{told.loss, i.probe - 1, i.probe, told.expected, i.rate, 0, 0, true};
  }
}

void RateControl::decide(const Interval& done) {
  // Each host's receive buffer in the interval before this one (no report: below the
  // threshold).
  const std::vector<std::uint16_t> backlog_before = backlog_;
  recent_losses_.assign(names_.size(), 0.0);
  for (std::size_t h = 0; h < names_.size(); ++h) {
    backlog_[h] = done.samples[h].loss >= 0 ? done.samples[h].backlog : 0;
    if (done.samples[h].loss > 0) {
      recent_losses_[h] = static_cast<double>(done.samples[h].loss) / protocol::kLossScale;
    }
  }
  for (std::size_t h = 0; h < names_.size(); ++h) {
    if (done.samples[h].loss >= 0 && !done.samples[h].echo) last_[h] = done.samples[h];
  }
  // The first interval at a lower rate: whose loss did not follow the rate?
  if (test_ && done.probe >= test_->probe && conclude_test(done)) return;
  update_bases(done);
  test_mild(done);
  learn(done);
  // The worst excess over a host's base, less what chance alone explains over the packets its
  // report counted (a random loss of p over n packets varies by sqrt(p(1-p)/n)).
  const auto [worst, who] = worst_excess(done);
  if (worst < kQuietLoss && !done.app_limited && fullest(done).first < p::kBacklogReport) {
    shown_ = std::max(shown_, done.rate);
  }
  // A host that limited the rate but did not report lost this probe, or its report: its loss
  // is not known to have fallen.
  const bool limiting_silent = limiting_ < names_.size() && done.samples[limiting_].loss < 0;
  limiting_ = worst >= kQuietLoss ? who : limiting_silent ? limiting_ : SIZE_MAX;
  if (worst >= kQuietLoss) last_loss_ = done.probe;
  if (worst >= kCongestedLoss) return congested(done, worst, who);
  if (test_) return;  // hold until the test ends
  if (fell_behind(done, backlog_before)) return;
  if (holds(done, worst, who, limiting_silent)) return;
  increase();
}

// Which hosts' bases are known, and the prior of the others.
void RateControl::learn(const Interval& done) {
  // A silence says "below the threshold" only over an interval long enough for a report.
  const bool told = sent_.over(done.probe - 1, done.probe).bytes >=
                    kMinReportPackets * static_cast<double>(config_.packet_bytes);
  std::vector<std::int32_t> bases;
  for (std::size_t h = 0; h < names_.size(); ++h) {
    silent_[h] = done.samples[h].loss >= 0 ? 0 : silent_[h] + (told ? 1 : 0);
    // (Skipping hosts are also silent when a report they repeat was lost: a change goes
    // twice, a repeat every quiet_ + 1 probes.)
    if (silent_[h] >= kKnownQuiet + 2u * quiet_) known_[h] = true;
    if (known_[h]) bases.push_back(base_[h]);
  }
  prior_ = 0;
  if (2 * bases.size() < names_.size()) return;
  // Only where they agree: the middle half of the known bases within 3 points (hosts whose
  // losses differ, 0 to 15 %, say nothing of a host not known yet).
  std::sort(bases.begin(), bases.end());
  const std::size_t n = bases.size();
  if (bases[3 * n / 4] - bases[n / 4] > kAlike) return;
  prior_ = bases[n / 2];
}

// A base falls to a report clearly below it (the host got better, or the base was wrong). A
// missing report says nothing: the probe or the report may have been lost.
void RateControl::update_bases(const Interval& done) {
  for (std::size_t h = 0; h < names_.size(); ++h) {
    const Sample& s = done.samples[h];
    if (s.echo) continue;  // counted when it was reported
    if (s.loss >= 0 && s.loss < base_[h] - p::loss_noise(z_, base_[h], s.expected, kSameLoss)) {
      base_[h] = s.loss;
    } else if (s.loss >= 0 && base_[h] > 0 && excess(h, s) <= 0) {
      // Within what chance explains: the base is a mean of such reports (one report's is
      // a noisy estimate, and 1,000 hosts hold some that are off by three deviations).
      base_[h] += (s.loss - base_[h]) / kBaseWeight;
    }
  }
}

// A mild loss (above the quiet level, short of congestion) that persists is tested upwards: a
// rate 15 % higher gives a full link about 13 points more, and leaves a random loss where it
// was (within what chance explains): that loss becomes the host's base. A host with no report
// at the higher rate lost less than the threshold there: its mild loss was not lasting.
void RateControl::test_mild(const Interval& done) {
  for (std::size_t h = 0; h < names_.size(); ++h) {
    Sample& m = mild_[h];
    const Sample& s = done.samples[h];
    const double reference = kMildTold * static_cast<double>(m.rate);
    if (m.loss < 0 || static_cast<double>(s.loss >= 0 ? s.rate : done.rate) < reference) continue;
    const std::int32_t tolerance =
        p::loss_noise(z_, std::max(m.loss, s.loss), std::min(m.expected, s.expected), kQuietLoss);
    if (s.loss >= 0 && s.loss <= m.loss + tolerance) {
      base_[h] = std::max(base_[h], (m.loss + s.loss) / 2);
      known_[h] = true;
    } else if (s.loss >= 0) {
      mild_limit_ = s.rate;  // it grew with the rate: near what that host takes
    }
    m.loss = -1;
  }
}

// Records the report of each host with a mild loss at this rate (the first one), and when the
// worst host's was recorded in an interval before (it persists), raises the rate to test it
// (true).
bool RateControl::raise_for_mild(const Interval& done, std::size_t who) {
  for (std::size_t h = 0; h < names_.size(); ++h) {
    const Sample& s = done.samples[h];
    const std::int32_t e = s.loss >= 0 ? excess(h, s) : 0;
    if (e > kQuietLoss && e < kCongestedLoss && mild_[h].loss < 0) mild_[h] = s;
  }
  const Sample& m = mild_[who];
  const auto higher = static_cast<std::uint64_t>(kMildStep * static_cast<double>(m.rate));
  if (m.loss < 0 || m.until >= done.probe || done.app_limited || rate_ >= higher ||
      (mild_limit_ != 0 && higher >= mild_limit_) ||
      (config_.ceiling != 0 && rate_ >= config_.ceiling)) {
    return false;
  }
  set_rate(higher, "up 15 %: does " + describe(who, m.loss) + " follow the rate?");
  return true;
}

// Down, and a test of whether the loss follows the rate.
void RateControl::congested(const Interval& done, std::int32_t worst, std::size_t who) {
  const Sample& s = done.samples[who];
  // Only once per congestion event: a loss at a rate above the current one, in an interval
  // before the last decrease took effect (a late report), or while a decrease is tested, was
  // answered already.
  if (s.rate > rate_ || s.until <= answered_until_ || test_) return;
  answered_until_ = probe_ + 1;
  const double took = 1.0 - static_cast<double>(worst) / p::kLossScale;
  const double cut = std::clamp(took * kMargin, kMaxCut, kMinCut);
  Interval before = done;
  before.rate = s.rate;
  // A host whose probe or report was lost in this interval is tested from its report of an
  // interval just before (a lossy host misses one in five at 10 % loss each way).
  for (std::size_t h = 0; h < names_.size(); ++h) {
    if (before.samples[h].loss < 0 && last_[h].until + kTestIntervals >= done.probe) {
      before.samples[h] = last_[h];
    }
  }
  // decide() runs as probe probe_ + 1 is sent: the new rate runs until probe probe_ + 2.
  test_ = Test{std::move(before),
               std::vector<Sample>(names_.size()),
               std::vector<bool>(names_.size()),
               slow_start_,
               congestion_rate_,
               probe_ + 1,
               probe_ + 2,
               who,
               rate_};
  decrease(static_cast<std::uint64_t>(static_cast<double>(std::min(rate_, s.rate)) * cut), s.rate,
           "down: " + describe(who, s.loss) + " at " + format_rate(s.rate));
}

// A host whose receive buffer fills takes fewer packets per second than arrive: it loses once
// the buffer is full, however deep it is. Down before it does (once per event, as above),
// without a test: that is the rate's doing whatever the host's usual loss.
bool RateControl::fell_behind(const Interval& done,
                              const std::vector<std::uint16_t>& backlog_before) {
  const auto [backlog, behind] = fullest(done);
  // Falling behind is a buffer that kept filling over two reports. One that empties is a host
  // catching up, and one first seen full a host that stalled (its reports waited in that
  // buffer too): hold until it has caught up.
  if (backlog < kBehind || backlog_before[behind] < p::kBacklogReport ||
      backlog <= backlog_before[behind] || done.samples[behind].rate > rate_) {
    return false;
  }
  const Sample& s = done.samples[behind];
  // Down to what it read per second (with the margin: its buffer drains meanwhile), by at
  // least 1/8 and at most 3/4.
  const double from = static_cast<double>(std::min(rate_, s.rate));
  const double took = s.took > 0 ? static_cast<double>(s.took) : from;
  limiting_ = behind;
  last_loss_ = done.probe;
  std::string why = "down: " + names_[behind] + " fell behind (receive buffer " + percent(backlog) +
                    " full) at " + format_rate(s.rate);
  if (s.took > 0) {
    why += ", reading ";
    why += format_rate(s.took);
  }
  decrease(static_cast<std::uint64_t>(
               std::clamp(took * kMargin, from * (1 - kMaxBehindCut), from * kMinCut)),
           static_cast<std::uint64_t>(std::min(took, from)), std::move(why));
  return true;
}

// Reasons to keep the rate: a filling buffer, loss above the quiet level, a silent limiting
// host, a recent loss, or a manager that sent below the rate (then no higher than validated).
bool RateControl::holds(const Interval& done, std::int32_t worst, std::size_t who,
                        bool limiting_silent) {
  const auto [backlog, behind] = fullest(done);
  if (backlog >= p::kBacklogReport) {
    if (limiting_ == SIZE_MAX) limiting_ = behind;
    reason_ = "hold: " + names_[behind] + "'s receive buffer is " + percent(backlog) + " full";
    return true;
  }
  if (worst > kQuietLoss) {
    if (!raise_for_mild(done, who)) reason_ = "hold: " + describe(who, done.samples[who].loss);
    return true;
  }
  if (limiting_silent) {
    reason_ = "hold: no report from " + names_[limiting_];
    return true;
  }
  if (done.probe < last_loss_ + 2) {  // a host's report may come one probe late
    reason_ = "hold: loss in the last interval";
    return true;
  }
  if (!done.app_limited) return false;
  // A rate well above what the manager could send says nothing the hosts have shown they take:
  // it would be sent in bursts whenever the manager's CPU frees up (as TCP's congestion window
  // validation, RFC 7661, which also keeps the most sent over a period). Not below the rate
  // where hosts began to lose: a short repair round, or the wait for NAKs, sends little and says
  // nothing either. The most of the last intervals: a manager that shares a busy CPU sends
  // 1.5 Mbit/s in one interval and 6 in the next, and following each low one cut the next high.
  const double most =
      std::min(std::max(static_cast<double>(done.rate), sent_.most(kValidatedIntervals)),
               static_cast<double>(rate_));
  const auto validated = std::max(congestion_rate_, static_cast<std::uint64_t>(kValidated * most));
  const char* why = "hold: the manager sent below the rate";
  if (rate_ > validated && !slow_start_) {
    set_rate(validated, why);
  } else {
    reason_ = why;
  }
  return true;
}

// Slowly near the rate of the last decrease (where the hosts began to lose); back towards it by
// 10 % per interval, and beyond it (the hosts no longer lose there) as in slow start.
void RateControl::increase() {
  if (config_.ceiling != 0 && rate_ >= config_.ceiling) return;
  const double c = static_cast<double>(congestion_rate_);
  const double r = static_cast<double>(rate_);
  if (slow_start_ || r >= 1.1 * c) {
    set_rate(static_cast<std::uint64_t>(r * (slow_start_ ? kSlowStart : kAboveCongestion)),
             slow_start_ ? "up: no host lost more than usual (slow start)"
                         : "up: no host lost more than usual, well above the last decrease");
  } else if (r <= 0.9 * c) {
    set_rate(static_cast<std::uint64_t>(r * 1.1), "up: no host lost more than usual");
  } else {
    const auto step =
        std::max<std::uint64_t>(static_cast<std::uint64_t>(kStep * c), config_.floor / 4);
    set_rate(rate_ + step, "up: no host lost more than usual, near the last decrease");
  }
}

}  // namespace fleetcast::sender
