#include "receiver/reception/rate_reporter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

// A loss within this of the last one reported is the same (chance), per kLossScale: three
// standard deviations of a random loss at the reported level over the interval's packets, at
// least half a point. Tighter than the manager's own tolerances (z >= 3 of the base, 1.5
// points), so a silence never hides a change it would act on.
std::int32_t same_span(std::int32_t told, std::uint32_t packets) {
  return p::loss_noise(3, told, packets, 50);
}

// Whether a rate (kbit/s, 0: unlimited) is at least 10 % below another.
bool slower(std::uint32_t rate, std::uint32_t than) {
  return rate != 0 && (than == 0 || std::uint64_t{rate} * 10 < std::uint64_t{than} * 9);
}

}  // namespace

void RateReporter::reset() {
  probe_ = 0;
  packets_ = 0;
  rate_kbit_ = before_kbit_ = 0;
  told_ = -1;
  skipped_ = 0;
  repeat_ = false;
  report_.reset();
  report_at_ = Clock::time_point::max();
}

void RateReporter::on_probe(const p::Probe& probe, std::uint16_t file_id, p::KeyId self,
                            const std::function<Clock::duration(Clock::duration)>& uniform,
                            Clock::time_point now) {
  if (probe.file_id != file_id || probe.probe <= probe_) return;
  const std::uint32_t expected = probe.next_sequence - probe_seq_;
  if (probe_ != 0 && expected > 0 && expected < (1u << 31)) {
    const auto received = static_cast<std::uint32_t>(std::min<std::uint64_t>(packets_, expected));
    const auto loss = static_cast<std::uint16_t>(p::kLossScale - std::uint64_t{received} *
                                                                     p::kLossScale / expected);
    if (worth_reporting(probe, loss, expected, self)) {
      repeat_ = told_ < 0 || std::abs(loss - told_) > same_span(told_, expected);
      told_ = loss;
      told_rate_kbit_ = rate_kbit_;
      skipped_ = 0;
      report_ = p::LossReport{file_id, probe.probe, probe.next_sequence, loss, expected, received,
                              probe_,  backlog_};
      report_->elapsed_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - probe_read_).count(), 0,
          UINT32_MAX));
      report_at_ = now + uniform(std::chrono::milliseconds(probe.report_window_ms));
    } else {
      ++skipped_;
    }
  }
  before_kbit_ = rate_kbit_;
  rate_kbit_ = probe.rate_kbit;
  probe_ = probe.probe;
  probe_seq_ = probe.next_sequence;
  packets_ = 0;
  probe_read_ = now;
}

bool RateReporter::worth_reporting(const p::Probe& probe, std::uint16_t loss,
                                   std::uint32_t expected, p::KeyId self) const {
  if (backlog_ >= p::kBacklogReport || probe.limiting == self) return true;
  const bool lossy = loss >= probe.threshold;
  if (probe.quiet == 0) return lossy;
  const bool same = told_ >= 0 && std::abs(loss - told_) <= same_span(told_, expected);
  if (!same) return lossy || told_ >= probe.threshold;  // a change, or a told loss that went
  // The same loss: the manager repeats it for this host until the probe after `quiet`, unless
  // the rate fell (the manager tests the loss at the lower rate) or it was a change (sent
  // twice).
  const bool fell = slower(rate_kbit_, before_kbit_) || slower(rate_kbit_, told_rate_kbit_);
  return lossy && (repeat_ || fell || skipped_ >= probe.quiet);
}

std::optional<p::LossReport> RateReporter::due(Clock::time_point now) {
  if (now < report_at_) return std::nullopt;
  report_at_ = Clock::time_point::max();
  auto out = std::move(report_);
  report_.reset();
  return out;
}

}  // namespace fleetcast::receiver
