#pragma once
// Replays of genuine manager lines, refused before any signature is checked (issue 26). Every
// manager command (UPDATE, STATUS, ACTIVATE, ABORT) carries the manager's time and names its
// session; the manager signs each copy with its current time, so per (verb, session) the times
// it sends only grow. A host keeps, per (verb, session), the newest time of a line that
// verified: a line older than that is a replay (or a copy that lost a race) and is dropped for
// the cost of a parse. A command acts at most once per time value: a replay of the newest line
// itself (whose bytes the verified-line cache knows) changes nothing either. Pure.

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "protocol/control.hpp"

namespace fleetcast::protocol {

// The time and session a manager command carries; nullopt for the hosts' commands.
struct Stamp {
  std::size_t kind = 0;  // the command's index in Command
  std::string_view verb;
  std::string_view name;  // the bundle's file name (for the log)
  SessionId session;
  std::uint64_t time = 0;
};
std::optional<Stamp> stamp_of(const Command& command);

class Freshness {
 public:
  // (verb, session) pairs remembered; the oldest is forgotten first. A host is in one session
  // at a time; 256 covers every session a rollout's STATUS and ACTIVATE lines still name.
  static constexpr std::size_t kMaxEntries = 256;

  // Older than the newest verified line of its verb and session.
  bool older(const Stamp& s) const;
  // After the line verified: raises the newest time.
  void seen(const Stamp& s);
  // True once per time value, the first time a line of that time is acted on; false for any
  // time not newer than the last one acted on (a replay of the newest line).
  bool act(const Stamp& s);
  // UPDATE lines of this session up to `time` are replays from now on (an ABORT ends the
  // session for every announcement sent before it).
  void close_announcements(SessionId session, std::uint64_t time);

 private:
  struct Entry {
    std::uint64_t newest = 0;
    std::uint64_t acted = 0;
  };
  using Key = std::pair<std::size_t, std::uint64_t>;
  Entry& entry(const Stamp& s);
  std::map<Key, Entry> entries_;
};

}  // namespace fleetcast::protocol
