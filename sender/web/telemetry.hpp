#pragma once
// The serving manager's live counters, handed from its loop to the web view's thread: the loop
// publishes (at most a few times a second), a request reads a copy. The only state the two
// threads share; everything else the web view reads from the store.

#include <cstdint>
#include <mutex>

#include "sender/delivery/totals.hpp"

namespace fleetcast::sender::web {

struct LiveFigures {
  DeliveryTotals delivery;         // every session this process ran, the running one included
  std::int64_t rollout = 0;        // the rollout on the loop (0: none)
  std::int64_t serving_since = 0;  // seconds since the epoch
};

class Telemetry {
 public:
  void publish(const LiveFigures& f) {
    std::lock_guard lock(mutex_);
    figures_ = f;
  }
  LiveFigures read() const {
    std::lock_guard lock(mutex_);
    return figures_;
  }

 private:
  mutable std::mutex mutex_;
  LiveFigures figures_;
};

}  // namespace fleetcast::sender::web
