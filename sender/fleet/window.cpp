#include "sender/fleet/window.hpp"

#include <ctime>

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include "protocol/text.hpp"

namespace fleetcast::sender {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

std::optional<unsigned> day_index(std::string_view d) {
  const auto it = std::find(kDays.begin(), kDays.end(), d);
  if (it == kDays.end()) return std::nullopt;
  return static_cast<unsigned>(it - kDays.begin());
}

std::optional<std::bitset<7>> parse_days(const std::string& text) {
  std::bitset<7> days;
  if (text == "daily") return days.set();
  for (const std::string& item : protocol::text::split(text, ',')) {
    const auto dash = item.find('-');
    const auto first = day_index(std::string_view(item).substr(0, dash));
    const auto last = dash == std::string::npos ? first : day_index(item.substr(dash + 1));
    if (!first || !last) return std::nullopt;
    for (unsigned d = *first;; d = (d + 1) % 7) {
      days.set(d);
      if (d == *last) break;
    }
  }
  return days;
}

std::optional<std::chrono::seconds> parse_time(std::string_view t) {
  unsigned parts[3] = {0, 0, 0};
  std::size_t n = 0;
  while (n < 3) {
    const auto colon = t.find(':');
    const std::string_view field = t.substr(0, colon);
    if (field.size() != 2) return std::nullopt;
    const auto [end, ec] = std::from_chars(field.data(), field.data() + 2, parts[n]);
    if (ec != std::errc() || end != field.data() + 2) return std::nullopt;
    ++n;
    if (colon == std::string_view::npos) break;
    t.remove_prefix(colon + 1);
  }
  if (n < 2 || parts[0] > 23 || parts[1] > 59 || parts[2] > 59) return std::nullopt;
  return std::chrono::seconds(parts[0] * 3600 + parts[1] * 60 + parts[2]);
}

}  // namespace

std::string iso_utc(std::int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::optional<SysSeconds> parse_instant(std::string_view text, SysSeconds now) {
  if (text == "now") return now;
  if (!text.empty() && text.front() == '+') {
    std::int64_t secs = 0;
    const auto [end, ec] = std::from_chars(text.data() + 1, text.data() + text.size(), secs);
    if (ec != std::errc() || end != text.data() + text.size() || secs < 0) return std::nullopt;
    return now + std::chrono::seconds(secs);
  }
  std::istringstream in{std::string(text)};
  date::sys_seconds t;
  in >> date::parse("%Y-%m-%dT%H:%M:%SZ", t);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return std::nullopt;
  return t;
}

std::optional<Window> Window::parse(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Window> {
    if (error) *error = why;
    return std::nullopt;
  };
  const auto words = protocol::text::split(std::string(text), ' ');
  if (words.size() != 3)
    return fail("expected 'DAYS HH:MM-HH:MM ZONE', e.g. 'Mon-Fri 22:00-05:00 Asia/Tokyo'");
  Window w;
  w.text_ = std::string(text);
  const auto days = parse_days(words[0]);
  if (!days) return fail("'" + words[0] + "': days are daily, Mon, Mon-Fri or Sat,Sun");
  w.days_ = *days;
  const auto dash = words[1].find('-');
  const auto open = parse_time(std::string_view(words[1]).substr(0, dash));
  const auto close = dash == std::string::npos
                         ? std::nullopt
                         : parse_time(std::string_view(words[1]).substr(dash + 1));
  if (!open || !close) return fail("'" + words[1] + "': expected HH:MM-HH:MM (or HH:MM:SS)");
  if (*open == *close) return fail("'" + words[1] + "': the window opens and closes at once");
  w.open_ = *open;
  w.close_ = *close;
  try {
    w.zone_ = date::locate_zone(words[2]);
  } catch (const std::exception&) {
    return fail("'" + words[2] + "' is not a time zone of this system's tz database");
  }
  return w;
}

std::pair<SysSeconds, SysSeconds> Window::occurrence(std::int64_t day) const {
  const date::local_days d{date::days{day}};
  const auto open = zone_->to_sys(d + open_, date::choose::earliest);
  const auto close_day = close_ > open_ ? d : d + date::days{1};
  const auto close = zone_->to_sys(close_day + close_, date::choose::earliest);
  return {std::chrono::time_point_cast<std::chrono::seconds>(open),
          std::chrono::time_point_cast<std::chrono::seconds>(close)};
}

// The occurrence that contains t, if any (it opened today or yesterday, local time).
std::optional<std::pair<SysSeconds, SysSeconds>> Window::around(SysSeconds t) const {
  const auto today = date::floor<date::days>(zone_->to_local(t)).time_since_epoch().count();
  for (std::int64_t day = today - 1; day <= today; ++day) {
    const unsigned weekday = date::weekday{date::local_days{date::days{day}}}.c_encoding();
    if (!days_.test(weekday)) continue;
    const auto [open, close] = occurrence(day);
    if (t >= open && t < close) return std::pair{open, close};
  }
  return std::nullopt;
}

bool Window::contains(SysSeconds t) const {
  return around(t).has_value();
}

SysSeconds Window::closes_at(SysSeconds t) const {
  const auto w = around(t);
  if (!w) throw std::logic_error("closes_at outside the window");
  return w->second;
}

SysSeconds Window::next_open(SysSeconds t) const {
  if (contains(t)) return t;
  const auto today = date::floor<date::days>(zone_->to_local(t)).time_since_epoch().count();
  for (std::int64_t day = today; day <= today + 8; ++day) {
    const unsigned weekday = date::weekday{date::local_days{date::days{day}}}.c_encoding();
    if (!days_.test(weekday)) continue;
    const auto open = occurrence(day).first;
    if (open > t) return open;
  }
  throw std::logic_error("a window with at least one day opens within 8 days");
}

bool WindowSet::contains(SysSeconds t) const {
  return std::all_of(windows_.begin(), windows_.end(),
                     [&](const Window& w) { return w.contains(t); });
}

std::optional<SysSeconds> WindowSet::next_open(SysSeconds t) const {
  const SysSeconds limit = t + std::chrono::days(8);
  // Jump to the latest next opening among them until one instant is inside all: each step
  // moves forward to an opening, so a few hundred steps cover 8 days of any windows.
  for (int step = 0; step < 512 && t <= limit; ++step) {
    SysSeconds later = t;
    for (const Window& w : windows_) later = std::max(later, w.next_open(t));
    if (later == t) return t;
    t = later;
  }
  return std::nullopt;
}

SysSeconds WindowSet::closes_at(SysSeconds t) const {
  SysSeconds out = SysSeconds::max();
  for (const Window& w : windows_) out = std::min(out, w.closes_at(t));
  return out;
}

std::string WindowSet::text() const {
  if (windows_.empty()) return "any time";
  std::string out;
  for (const Window& w : windows_) {
    if (!out.empty()) out += " and ";
    out += "'";
    out += w.text();
    out += "'";
  }
  return out;
}

}  // namespace fleetcast::sender
