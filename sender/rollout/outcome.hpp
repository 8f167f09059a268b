#pragma once
// The rollout's vocabulary, typed: its state (as stored, `rollout list|status` show it), the
// operator's request to a running manager, and one host's outcome in the rollout. Text only at
// the store's and the screen's boundary (to_string / *_from).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/control.hpp"

namespace fleetcast::sender {

enum class RolloutState { scheduled, running, paused, halted, aborted, done, failed };
std::string_view to_string(RolloutState s);
std::optional<RolloutState> rollout_state_from(std::string_view text);

// pause and abort come from the operator through the store; interrupt from a signal to `serve`
// (the rollout starts no new wave and stays running, for the next start to resume).
enum class Request { none, pause, abort, interrupt };
std::string_view to_string(Request r);
std::optional<Request> request_from(std::string_view text);

// What one host of a rollout said last: nothing yet, a FIN (with its status), a DENY of the
// announcement, or nothing within the time allowed (silent).
struct HostOutcome {
  enum class Answer { pending, fin, denied, silent };
  Answer answer = Answer::pending;
  protocol::FinStatus fin = protocol::FinStatus::received;
  std::string message;
  std::size_t wave = 0;                // 0-based
  std::optional<double> activated_at;  // seconds since the rollout began
  std::optional<double> result_at;

  // "pending", "denied", "silent", or the FIN status ("held", "applied", "rolled-back", ...).
  std::string status() const;
  // It holds the bundle: it reported held, or a result of an activation already.
  bool holds() const;
};

}  // namespace fleetcast::sender
