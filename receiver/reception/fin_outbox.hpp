#pragma once
// The host's FIN outbox: the apply result of each recent session, kept for its manager. A FIN is
// sent when the apply ends, again after 1 s and 3 s (no ACK exists for FIN: the manager asks
// with STATUS for what it misses), and on every STATUS for its session. At most kMaxFins
// sessions are kept (newest last); a result from before this process started (the journal) is
// sent only when a STATUS asks. No clock, no socket: the agent passes time and a sender in.

#include <chrono>
#include <functional>
#include <vector>

#include "protocol/control.hpp"
#include "receiver/reception/assembler.hpp"

namespace fleetcast::receiver {

class FinOutbox {
 public:
  static constexpr std::size_t kMaxFins = 64;

  // Keeps `fin` for its session (replacing an older result of it): first sent at `first`;
  // `sent` repeats are counted as done already (all of them: only on a STATUS).
  void keep(protocol::Fin fin, const protocol::Endpoint& reply, Clock::time_point first,
            bool asked_only);
  // A STATUS for `session`: its FIN goes out again by `at`.
  void ask(protocol::SessionId session, Clock::time_point at);
  // Sends what is due through `send` (false: the line did not fit; the message is then
  // shortened from the front, it is the tail of the script output).
  void send_due(Clock::time_point now,
                const std::function<bool(const protocol::Fin&, const protocol::Endpoint&)>& send);
  Clock::time_point next_wakeup() const;
  std::size_t pending() const;  // FINs not yet sent at least once

 private:
  struct Out {
    protocol::Fin fin;
    protocol::Endpoint reply;
    Clock::time_point next;
    int repeats = 0;  // sent so far
  };
  std::vector<Out> out_;  // newest last, bounded
};

}  // namespace fleetcast::receiver
