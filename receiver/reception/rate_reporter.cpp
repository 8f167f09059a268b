#include "receiver/reception/rate_reporter.hpp"

#include <algorithm>

namespace fleetcast::receiver {
namespace p = protocol;

void RateReporter::reset() {
  probe_ = 0;
  packets_ = 0;
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
    if (loss >= probe.threshold || backlog_ >= p::kBacklogReport || probe.limiting == self) {
      report_ = p::LossReport{file_id, probe.probe, probe.next_sequence, loss, expected, received,
                              probe_,  backlog_};
      report_->elapsed_ms = static_cast<std::uint32_t>(std::clamp<std::int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - probe_read_).count(), 0,
          UINT32_MAX));
      report_at_ = now + uniform(std::chrono::milliseconds(probe.report_window_ms));
    }
  }
  probe_ = probe.probe;
  probe_seq_ = probe.next_sequence;
  packets_ = 0;
  probe_read_ = now;
}

std::optional<p::LossReport> RateReporter::due(Clock::time_point now) {
  if (now < report_at_) return std::nullopt;
  report_at_ = Clock::time_point::max();
  auto out = std::move(report_);
  report_.reset();
  return out;
}

}  // namespace fleetcast::receiver
