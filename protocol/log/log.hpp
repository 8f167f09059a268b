#pragma once
// Events as log lines: one line per event, with a stable message ID and key=value fields.
//
//   2026-12-06T01:20:03Z info FC2101 listening host=school-1 iface=eth0 manager=KyF3...
//
// The ID (FC + four digits: 1xxx the manager, 2xxx the host agent) and the event's name never
// change; the fields may grow. Values are quoted when they hold a space, '"', '=' or nothing,
// and control characters are escaped, so a line is always one line. Lines go to standard error
// (one write each, whole even from two threads); under systemd (JOURNAL_STREAM names standard
// error) without the time and with the "<N>" level prefix journald reads; with `syslog` also to
// syslog(3), facility daemon. The message IDs are listed in the programs' man pages.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetcast::log {

// syslog(3) priorities.
enum class Level : int { error = 3, warning = 4, notice = 5, info = 6, debug = 7 };
std::string_view to_string(Level level);
// "debug", "info", "notice", "warning" (or "warn"), "error"; nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);

class Event {
 public:
  Event(Level level, std::string_view id, std::string_view name);
  Event& with(std::string_view key, std::string_view value);
  Event& with(std::string_view key, const std::string& value) {
    return with(key, std::string_view(value));
  }
  Event& with(std::string_view key, const char* value) {
    return with(key, std::string_view(value));
  }
  Event& with(std::string_view key, std::uint64_t value);

  Level level() const { return level_; }
  const std::string& id() const { return id_; }
  const std::string& name() const { return name_; }
  // The value of field `key` ("" when absent).
  std::string field(std::string_view key) const;
  // "FC2101 listening host=school-1 ..." (no time, no level).
  std::string text() const;

 private:
  Level level_;
  std::string id_, name_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

inline Event error(std::string_view id, std::string_view name) {
  return Event(Level::error, id, name);
}
inline Event warning(std::string_view id, std::string_view name) {
  return Event(Level::warning, id, name);
}
inline Event notice(std::string_view id, std::string_view name) {
  return Event(Level::notice, id, name);
}
inline Event info(std::string_view id, std::string_view name) {
  return Event(Level::info, id, name);
}
inline Event debug(std::string_view id, std::string_view name) {
  return Event(Level::debug, id, name);
}

// A field value as it appears in a line: bare, or quoted with \" \\ \n \t \xNN escapes.
std::string quote(std::string_view value);

struct Config {
  std::string program = "fleetcast";  // the syslog ident
  Level level = Level::info;          // events less important than this are dropped
  bool syslog = false;
};
// Applies to every later emit() of this process.
void configure(const Config& config);
// Writes the event when its level passes the configured one. Thread-safe.
void emit(const Event& event);
// The line emit() writes to standard error for `event` (with a newline).
std::string line(const Event& event);

}  // namespace fleetcast::log
