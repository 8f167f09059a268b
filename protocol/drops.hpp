#pragma once
// Why a received line or packet was dropped, counted per reason (as Kea counts
// pkt4-parse-failed, pkt4-receive-drop): by a host for what claims to come from its manager, by
// the manager for what claims to come from its hosts. Bad peer input is never an error: it is
// one count here.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace fleetcast::protocol {

enum class Drop : std::uint8_t {
  malformed,    // does not parse, or a verb the sender may not send
  not_ours,     // another signer, session, file or host: not for this receiver
  no_mac,       // the fleet key's (or the host's feedback) MAC is missing or wrong
  stale,        // outside the clock window
  replay,       // older than the newest of its kind (freshness.hpp)
  over_budget,  // the source's verification budget is spent (verify_budget.hpp)
  forged,       // the signature, or the data's authentication, does not verify
  unwanted,     // would change nothing (a late or repeated ROUND, PROBE, ACK, NAK)
};
inline constexpr std::size_t kDropReasons = 8;
std::string_view to_string(Drop d);

class Drops {
 public:
  void count(Drop d) { ++n_[static_cast<std::size_t>(d)]; }
  std::uint64_t operator[](Drop d) const { return n_[static_cast<std::size_t>(d)]; }
  std::uint64_t total() const;
  // "no-mac=120,forged=3": the reasons with a count, in enum order ("" when none).
  std::string text() const;

 private:
  std::array<std::uint64_t, kDropReasons> n_{};
};

}  // namespace fleetcast::protocol
