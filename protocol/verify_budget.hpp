#pragma once
// Cheap refusal: how many Ed25519 verifications lines and packets that name a known key may
// cost. Key IDs travel in clear, so anyone on the LAN can send lines that name one; each would
// cost a verification (about 50 µs). The caller drops replays before it gets here (stale
// times, lines older than the newest seen: protocol/freshness.hpp), then asks this budget:
//
// * A line verified before (the same bytes: the peer's repeats, or a replay of the newest) is
//   not verified again: a cache of the last `cache` lines' hashes.
// * Every verification counts against its source address, whatever its outcome:
//   - a pinned source (the manager's announced address, learned from the content of a signed
//     announcement, never from who sent it) has its own `pinned` verifications per second and
//     is never evicted, so a flood from elsewhere cannot crowd it out;
//   - any other source has at most `per_source` a second, all of them together `shared` a
//     second, and one whose verification failed waits kPenalty before it is tried again.
// Nothing is trusted because a line from it verified: a replayed genuine line earns nothing.
// Refused messages are dropped unverified and counted. Pure: the time is passed in.

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "protocol/clock.hpp"
#include "protocol/transport.hpp"

namespace fleetcast::protocol {

using LineHash = std::array<std::uint8_t, 16>;
using Address = std::array<std::uint8_t, 16>;

// The hashes of the last `size` messages that verified, oldest forgotten first: a message
// whose exact bytes verified before is not verified again.
class VerifiedCache {
 public:
  explicit VerifiedCache(std::size_t size) : size_(size) {}
  bool known(const LineHash& h) const { return cached_.count(h) != 0; }
  void add(const LineHash& h);

 private:
  std::deque<LineHash> order_;  // newest last, for eviction
  std::set<LineHash> cached_;   // the same hashes, for lookup (this runs for every message)
  std::size_t size_;
};

// Verifications in the current second, at most a limit: take() counts one when it may.
class SecondWindow {
 public:
  using Clock = fleetcast::Clock;
  bool take(Clock::time_point now, std::uint32_t limit);
  // Counted something in the second that is still running at `now`.
  bool busy(Clock::time_point now) const {
    return used_ > 0 && now - start_ < std::chrono::seconds(1);
  }

 private:
  Clock::time_point start_{};
  std::uint32_t used_ = 0;
};

class VerifyBudget {
 public:
  using Clock = fleetcast::Clock;
  static constexpr std::size_t kVerifiedCache = 256;
  // A manager sends a few lines and feedback packets a second; 1,024 is ~5 % of a core.
  static constexpr std::uint32_t kPinnedPerSecond = 1024;
  static constexpr std::uint32_t kPerSourcePerSecond = 16;
  static constexpr std::uint32_t kSharedPerSecond = 64;
  static constexpr auto kPenalty = std::chrono::seconds(1);
  static constexpr std::size_t kMaxSources = 1024;  // tracked unpinned sources
  static constexpr std::size_t kMaxPinned = 4;      // a manager that changed its address
  // The defaults fit a host (one manager); the manager hears every host once at registration
  // and uses a larger shared budget and cache.
  struct Limits {
    std::uint32_t per_source = kPerSourcePerSecond;
    std::uint32_t shared = kSharedPerSecond;
    std::uint32_t pinned = kPinnedPerSecond;
    std::size_t cache = kVerifiedCache;
  };
  VerifyBudget() : VerifyBudget(Limits{}) {}
  explicit VerifyBudget(Limits limits) : cache_(limits.cache), limits_(limits) {}

  static LineHash hash(std::span<const std::uint8_t> bytes);

  // These exact bytes verified before: act on them without verifying.
  bool known(const LineHash& h) const { return cache_.known(h); }
  // May a message from `from` cost a verification now? (Counts it when yes.)
  bool admit(const text::Endpoint& from, Clock::time_point now);
  void verified(const LineHash& h) { cache_.add(h); }
  void failed(const text::Endpoint& from, Clock::time_point now);
  // The manager's address, from a verified announcement: its own budget, never evicted. The
  // oldest of kMaxPinned is unpinned when another is pinned.
  void pin(const Address& address);
  bool pinned(const Address& address) const;

  // The one signature step of every receiver of signed bytes (a host for its manager, the
  // manager for its hosts): bytes verified before pass at once; otherwise the source's budget
  // is charged and `verify()` runs; a failure makes the source wait (kPenalty).
  enum class Verdict { known, verified, over_budget, forged };
  template <class Verify>
  Verdict check(std::span<const std::uint8_t> bytes, const text::Endpoint& from,
                Clock::time_point now, Verify&& verify) {
    const LineHash h = hash(bytes);
    if (known(h)) return Verdict::known;
    if (!admit(from, now)) return Verdict::over_budget;
    if (!verify()) {
      failed(from, now);
      return Verdict::forged;
    }
    verified(h);
    return Verdict::verified;
  }
  static bool passed(Verdict v) { return v == Verdict::known || v == Verdict::verified; }

  std::uint64_t refused() const { return refused_; }
  std::size_t sources() const { return sources_.size(); }

 private:
  struct Source {
    SecondWindow window;
    Clock::time_point penalty_until{};
  };
  struct Pinned {
    Address address{};
    SecondWindow window;
  };
  // nullptr: the table is full of sources still counting; the message then meets the shared
  // budget alone.
  Source* source(const Address& from, Clock::time_point now);

  VerifiedCache cache_;
  std::map<Address, Source> sources_;
  std::vector<Pinned> pinned_;  // oldest first
  SecondWindow shared_;
  static constexpr auto kSweepEvery = std::chrono::milliseconds(100);
  Clock::time_point swept_{};  // the last sweep of a full source table
  std::uint64_t refused_ = 0;
  Limits limits_;
};

}  // namespace fleetcast::protocol
