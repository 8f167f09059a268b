#include <algorithm>

#include "protocol/text.hpp"
#include "receiver/reception/agent.hpp"

// Which of the manager's ctrl lines a host acts on before their signature is checked: a line
// outside the clock window (a replay, or a clock that is off) or older than the newest of its
// kind in its session is dropped; a stale announcement is answered with one DENY a second.

namespace fleetcast::receiver {
namespace p = protocol;

bool Agent::admissible(const p::SignedCommand& c, const p::Stamp& s, std::string_view line,
                       const p::Endpoint& from, Clock::time_point now) {
  if (!within_clock_window(s.verb, s.name, s.time)) {
    if (const auto* u = std::get_if<p::Update>(&c.command)) deny_stale(c, *u, line, from, now);
    return false;
  }
  // An older announcement of another session while a newer one runs, or a line older than the
  // newest of its kind in its session: a replay.
  const auto* u = std::get_if<p::Update>(&c.command);
  const bool older_session =
      u && update_ && update_->session != u->session && u->time < session_time_;
  if (!older_session && !gate_.freshness().older(s)) return true;
  counters_.ctrl.count(p::Drop::replay);
  if (gate_.first_replay_of(s.session)) {
    log_(log::warning("FC2133", "replay-ignored")
             .with("command", s.verb)
             .with("bundle", s.name)
             .with("session", p::text::hex64(s.session.value))
             .with("announced", s.time)
             .with("current", update_ ? p::text::hex64(update_->session.value) : "")
             .with("current_announced", session_time_));
  }
  return false;
}

// Tell the manager once per session why this host does not join (its clock may be the one that
// is off), without leaving the session being received: at most one DENY a second, and only for
// an announcement that verifies (a keyless host cannot make this host sign for it).
void Agent::deny_stale(const p::SignedCommand& c, const p::Update& u, std::string_view line,
                       const p::Endpoint& from, Clock::time_point now) {
  if (now < stale_.next || std::find(stale_.sessions.begin(), stale_.sessions.end(), u.session) !=
                               stale_.sessions.end()) {
    return;
  }
  if (!signed_by_manager(
          p::as_bytes(line), from, now, [&] { return p::verify_command(c, config_.manager); },
          counters_.ctrl)) {
    return;
  }
  stale_.next = now + StaleDenials::kEvery;
  stale_.sessions.push_back(u.session);
  if (stale_.sessions.size() > StaleDenials::kKept) stale_.sessions.pop_front();
  const std::uint64_t wall = config_.wall_clock();
  stale_.pending = {
      p::Deny{u.name, config_.host_name,
              "clock: the announcement's time " + std::to_string(u.time) + " is more than " +
                  std::to_string(config_.max_clock_skew) + " s from this host's clock " +
                  std::to_string(wall) + " (a replay, or NTP is off on one side)",
              u.session},
      u.reply};
}

bool Agent::within_clock_window(std::string_view verb, std::string_view name, std::uint64_t time) {
  const std::uint64_t wall = config_.wall_clock();
  const std::uint64_t skew = wall > time ? wall - time : time - wall;
  if (skew <= config_.max_clock_skew) return true;
  counters_.ctrl.count(p::Drop::stale);
  // One line per kind of command and name would do; a flood of replays is counted, and logged
  // once every 64 times.
  const std::uint64_t stale = counters_.ctrl[p::Drop::stale];
  if (stale % 64 == 1) {
    // A replay, or a clock that is off.
    log_(log::warning("FC2132", "stale-command")
             .with("command", verb)
             .with("bundle", name)
             .with("skew_s", skew)
             .with("clock", time < wall ? "behind" : "ahead")
             .with("window_s", config_.max_clock_skew)
             .with("stale_total", stale));
  }
  return false;
}

}  // namespace fleetcast::receiver
