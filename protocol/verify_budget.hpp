#pragma once
// Cheap refusal on a host: how many Ed25519 verifications lines and packets that name the
// manager's key may cost. Key IDs travel in clear, so anyone on the LAN can send lines that
// name it; each would cost a verification (about 50 µs). The agent asks this budget before it
// verifies:
//
// * A line verified before (the same bytes: the manager's repeats, or a replay) is not verified
//   again: a cache of the last kVerifiedCache lines' hashes.
// * A source address that sent a valid signed message in the last kTrustedFor is trusted: its
//   messages are verified, up to kTrustedFailures failed ones per second (a flood that spoofs
//   the manager's own address is bounded too).
// * Any other source shares kUntrustedPerSecond verifications per second, and a source whose
//   verification failed waits kPenalty before it is tried again.
// Refused messages are dropped unverified and counted. Pure: the time is passed in.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>

#include "protocol/transport.hpp"

namespace fleetcast::protocol {

using LineHash = std::array<std::uint8_t, 16>;

class VerifyBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kVerifiedCache = 256;
  static constexpr auto kTrustedFor = std::chrono::minutes(10);
  static constexpr std::uint32_t kTrustedFailures = 64;
  static constexpr std::uint32_t kUntrustedPerSecond = 64;
  static constexpr auto kPenalty = std::chrono::seconds(1);
  // The defaults fit a host (one manager); the manager hears every host once at registration
  // and uses a larger budget for sources it has not heard from yet.
  struct Limits {
    std::uint32_t trusted_failures = kTrustedFailures;
    std::uint32_t untrusted_per_second = kUntrustedPerSecond;
  };
  VerifyBudget() = default;
  explicit VerifyBudget(Limits limits) : limits_(limits) {}

  static LineHash hash(std::span<const std::uint8_t> bytes);

  // These exact bytes verified before: act on them without verifying.
  bool known(const LineHash& h) const;
  // May a message from `from` cost a verification now? (Counts it when yes.)
  bool admit(const text::Endpoint& from, Clock::time_point now);
  void verified(const LineHash& h, const text::Endpoint& from, Clock::time_point now);
  void failed(const text::Endpoint& from, Clock::time_point now);

  std::uint64_t refused() const { return refused_; }

 private:
  struct Source {
    Clock::time_point trusted_until{};
    Clock::time_point penalty_until{};
    Clock::time_point second{};
    std::uint32_t failures = 0;  // in the second starting at `second`
  };
  Source& source(const text::Endpoint& from, Clock::time_point now);

  std::deque<LineHash> cache_;  // newest last, for eviction
  std::set<LineHash> cached_;   // the same hashes, for lookup (this runs for every message)
  std::map<std::array<std::uint8_t, 16>, Source> sources_;  // by address; bounded: source()
  Clock::time_point second_{};
  std::uint32_t untrusted_ = 0;  // verifications for untrusted sources in this second
  std::uint64_t refused_ = 0;
  Limits limits_;
};

}  // namespace fleetcast::protocol
