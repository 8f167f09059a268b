#pragma once
// The host's answers to the manager's rate probes (protocol::Probe, protocol/README.md "Rate
// adaptation"): the loss since the previous probe, from sequence numbers as the manager counts
// its packets, reported in a LOSS-REPORT when it reaches the probe's threshold, when the data
// socket's buffer fills (backlog), or when the probe names this host as the limiting one. The
// report goes out at a random moment of the probe's report window. Probes only go forward (a
// replayed one changes nothing); the first one a process sees only starts the count.
//
// When the probe allows it (Probe::quiet, large fleets), a host whose loss stays within chance
// of what it last reported skips up to that many probes in a row: the manager reads the
// silence as that report repeated. It still reports a loss that changed (twice: the manager
// cannot tell a lost report from silence), a loss it reported that has gone, and its loss at a
// rate that fell since (the manager tests whether the loss followed the rate).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "protocol/data.hpp"
#include "receiver/reception/assembler.hpp"

namespace fleetcast::receiver {

class RateReporter {
 public:
  // A new session: nothing counted, no report pending.
  void reset();
  void on_packet() { ++packets_; }
  // How full the data socket's receive buffer is (per kLossScale), before its packets are read.
  void on_backlog(std::uint16_t backlog) { backlog_ = backlog; }
  // A probe worth its signature check: newer than the last one.
  bool wants(const protocol::Probe& probe) const { return probe.probe > probe_; }
  // A verified probe of this session; `uniform(window)` picks when in its report window to
  // answer.
  void on_probe(const protocol::Probe& probe, std::uint16_t file_id, protocol::KeyId self,
                const std::function<Clock::duration(Clock::duration)>& uniform,
                Clock::time_point now);
  // The report due at `now`, once.
  std::optional<protocol::LossReport> due(Clock::time_point now);
  Clock::time_point next_wakeup() const { return report_at_; }

 private:
  std::uint32_t probe_ = 0;  // the last probe's number
  std::uint32_t probe_seq_ = 0;
  std::uint64_t packets_ = 0;  // since it
  std::uint16_t backlog_ = 0;
  Clock::time_point probe_read_{};  // when it was read
  std::uint32_t rate_kbit_ = 0;     // the rate the last probe announced (0: unlimited)
  std::uint32_t before_kbit_ = 0;   // the one before it
  std::optional<protocol::LossReport> report_;
  Clock::time_point report_at_ = Clock::time_point::max();
  // What this host last told the manager: its loss (-1: nothing yet), the rate of that
  // interval; the probes it skipped since, and whether that report was a change (sent twice).
  std::int32_t told_ = -1;
  std::uint32_t told_rate_kbit_ = 0;
  std::uint32_t skipped_ = 0;
  bool repeat_ = false;

  // Whether the loss of this interval (`loss` over `expected` packets) goes in a report.
  bool worth_reporting(const protocol::Probe& probe, std::uint16_t loss, std::uint32_t expected,
                       protocol::KeyId self) const;
};

}  // namespace fleetcast::receiver
