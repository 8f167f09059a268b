#include "sender/rollout/outcome.hpp"

#include <array>

namespace fleetcast::sender {
namespace p = protocol;
namespace {

constexpr std::array<std::string_view, 7> kStates = {"scheduled", "running", "paused", "halted",
                                                     "aborted",   "done",    "failed"};
constexpr std::array<std::string_view, 4> kRequests = {"", "pause", "abort", "interrupt"};

template <class Enum, std::size_t N>
std::optional<Enum> named(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(RolloutState s) {
  return kStates[static_cast<std::size_t>(s)];
}
std::optional<RolloutState> rollout_state_from(std::string_view text) {
  return named<RolloutState>(kStates, text);
}
std::string_view to_string(Request r) {
  return kRequests[static_cast<std::size_t>(r)];
}
std::optional<Request> request_from(std::string_view text) {
  return named<Request>(kRequests, text);
}

std::string HostOutcome::status() const {
  switch (answer) {
    case Answer::pending:
      return "pending";
    case Answer::denied:
      return "denied";
    case Answer::silent:
      return "silent";
    case Answer::fin:
      break;
  }
  return std::string(p::to_string(fin));
}

bool HostOutcome::holds() const {
  return answer == Answer::fin && fin != p::FinStatus::rejected && fin != p::FinStatus::received &&
         fin != p::FinStatus::checked;
}

}  // namespace fleetcast::sender
