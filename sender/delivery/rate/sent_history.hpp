#pragma once
// What the manager really sent in each recent rate interval (rate_control.hpp): the rate a
// host's loss happened at (a report may cover several intervals, and arrive late), and what a
// manager bound by its CPU sends whatever its rate.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fleetcast::sender {

class SentHistory {
 public:
  struct Sent {
    double bytes = 0, seconds = 0;
    double rate() const { return seconds > 0 ? bytes / seconds : 0; }  // bytes/s
  };

  // The interval that ended at probe `probe`; the last 64 are kept.
  void add(std::uint32_t probe, double bytes, double seconds) {
    intervals_.push_back({probe, {bytes, seconds}});
    if (intervals_.size() > kKept) intervals_.erase(intervals_.begin());
  }
  // The intervals after probe `since` up to probe `until`, summed (nothing: 0 and 0).
  Sent over(std::uint32_t since, std::uint32_t until) const {
    Sent sum;
    for (const auto& [probe, s] : intervals_) {
      if (probe > since && probe <= until) {
        sum.bytes += s.bytes;
        sum.seconds += s.seconds;
      }
    }
    return sum;
  }
  // Bytes per second of the last interval (0: none yet).
  double last_rate() const { return intervals_.empty() ? 0 : intervals_.back().second.rate(); }
  // The most bytes per second of the last `n` intervals (0: none).
  double most(std::size_t n) const {
    double most = 0;
    const std::size_t from = intervals_.size() - std::min(n, intervals_.size());
    for (std::size_t i = from; i < intervals_.size(); ++i) {
      most = std::max(most, intervals_[i].second.rate());
    }
    return most;
  }

 private:
  static constexpr std::size_t kKept = 64;
  std::vector<std::pair<std::uint32_t, Sent>> intervals_;  // oldest first, by probe
};

}  // namespace fleetcast::sender
