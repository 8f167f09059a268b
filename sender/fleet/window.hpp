#pragma once
// A maintenance window in the local time of a time zone, e.g. "Mon-Fri 22:00-05:00 Asia/Tokyo":
// on the listed days (the day a window opens), from the opening time until the closing time,
// which is on the next day when it is not later than the opening (the window spans midnight).
// Days: "daily", a name ("Sat"), a range ("Mon-Fri", wrapping: "Fri-Mon") or a comma list of
// those. Times: HH:MM or HH:MM:SS. The zone is an IANA name from the system's tz database
// (Debian tzdata, read through the date library); "UTC" works everywhere. Local times that do
// not exist (a DST gap) map to the instant after the gap; ambiguous ones to the earlier.
//
// Pure: the time is passed in. The wave runner starts a wave only inside the window, waits
// for the next opening otherwise, and sends no new ACTIVATE once the window closed.

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/clock.hpp"

namespace date {
class time_zone;
}

namespace fleetcast::sender {

using SysSeconds = fleetcast::SysSeconds;

// "2026-11-29T01:02:03Z" for seconds since the epoch.
std::string iso_utc(std::int64_t seconds);
inline std::string iso_utc(SysSeconds t) {
  return iso_utc(t.time_since_epoch().count());
}

// "now", "+SECONDS" (from `now`) or "YYYY-MM-DDTHH:MM:SSZ" (UTC); nullopt when it is none.
std::optional<SysSeconds> parse_instant(std::string_view text, SysSeconds now);

class Window {
 public:
  // nullopt (and `error`) when the text is not a window or the zone is unknown.
  static std::optional<Window> parse(std::string_view text, std::string* error);

  bool contains(SysSeconds t) const;
  // `t` itself when inside; otherwise the next opening (within the next 8 days).
  SysSeconds next_open(SysSeconds t) const;
  // The end of the window that contains `t` (precondition: contains(t)).
  SysSeconds closes_at(SysSeconds t) const;
  const std::string& text() const { return text_; }

 private:
  // The opening and closing instants of the window that opens on local day `day` (days since
  // the epoch in the zone's local time).
  std::pair<SysSeconds, SysSeconds> occurrence(std::int64_t day) const;
  std::optional<std::pair<SysSeconds, SysSeconds>> around(SysSeconds t) const;

  std::string text_;
  std::bitset<7> days_;  // 0 = Sunday (C encoding)
  std::chrono::seconds open_{0};
  std::chrono::seconds close_{0};
  const date::time_zone* zone_ = nullptr;
};

// The windows one host must be inside, all at once: the rollout's own and those of the
// inventory groups it is in. Empty: any time.
class WindowSet {
 public:
  void add(const Window& w) { windows_.push_back(w); }
  bool empty() const { return windows_.empty(); }
  bool contains(SysSeconds t) const;
  // `t` itself when inside every window; otherwise the next instant that is (nullopt: none
  // within the next 8 days, e.g. windows that never overlap).
  std::optional<SysSeconds> next_open(SysSeconds t) const;
  // When the first of them closes (precondition: contains(t)); max() for an empty set.
  SysSeconds closes_at(SysSeconds t) const;
  std::string text() const;  // "any time", or the windows joined with " and "
  const std::vector<Window>& windows() const { return windows_; }

 private:
  std::vector<Window> windows_;
};

}  // namespace fleetcast::sender
