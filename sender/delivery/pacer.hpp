#pragma once
// Token bucket for the data rate. Time is passed in; the pacer owns no clock.

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "protocol/clock.hpp"

namespace fleetcast::sender {

using Clock = fleetcast::Clock;

class Pacer {
 public:
  // rate in bytes per second (0 = unlimited); burst in bytes (at least one datagram).
  Pacer(std::uint64_t rate, std::uint64_t burst)
      : rate_(rate), burst_(burst), tokens_(static_cast<double>(burst)) {}

  // Bytes that may be sent now (refills first).
  std::uint64_t available(Clock::time_point now) {
    tokens_ = tokens_at(now);
    last_ = now;
    return rate_ == 0 ? UINT64_MAX : static_cast<std::uint64_t>(std::max(0.0, tokens_));
  }
  // From now on (tokens already earned stay, up to the burst).
  void set_rate(std::uint64_t rate, Clock::time_point now) {
    if (rate == rate_) return;
    tokens_ = tokens_at(now);
    last_ = now;
    rate_ = rate;
  }
  // The tokens to wait for between two sends, so that the loop wakes once per batch and not per
  // packet: at most `most_packets` packets or a millisecond of the rate (a slow link's buffer
  // takes a millisecond's burst), at least one packet. One packet when unlimited.
  std::uint64_t batch_cost(std::uint64_t packet, std::uint64_t most_packets = kBatch) const {
    return rate_ == 0 ? packet : std::clamp(rate_ / 1000, packet, most_packets * packet);
  }
  static constexpr std::uint64_t kBatch = 16;  // packets per wakeup, at most
  void consume(std::uint64_t bytes) {
    if (rate_ != 0) tokens_ -= static_cast<double>(bytes);
  }
  // When `bytes` will be available (changes nothing).
  Clock::time_point ready_at(std::uint64_t bytes, Clock::time_point now) const {
    const double tokens = tokens_at(now);
    if (rate_ == 0 || tokens >= static_cast<double>(bytes)) return now;
    const double wait = (static_cast<double>(bytes) - tokens) / static_cast<double>(rate_);
    return now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait));
  }

 private:
  double tokens_at(Clock::time_point now) const {
    if (last_ == Clock::time_point{}) return tokens_;
    const double dt = std::chrono::duration<double>(now - last_).count();
    return std::min(static_cast<double>(burst_), tokens_ + dt * static_cast<double>(rate_));
  }
  std::uint64_t rate_;
  std::uint64_t burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace fleetcast::sender
