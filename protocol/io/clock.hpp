#pragma once
// The one place that reads the wall clock. From system_clock, not time(): glibc's time() reads
// the coarse clock, which can lag system_clock by a tick, and a window that opens at 22:00:00
// must not be read as 21:59:59 by one part and 22:00:00 by another.

#include <chrono>
#include <cstdint>

#include "protocol/clock.hpp"

namespace fleetcast::protocol::io {

inline SysSeconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}
// Seconds since the epoch.
inline std::uint64_t wall_seconds() {
  return static_cast<std::uint64_t>(wall_now().time_since_epoch().count());
}

}  // namespace fleetcast::protocol::io
