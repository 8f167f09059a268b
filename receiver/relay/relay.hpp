#pragma once
// A site's relay (protocol/README.md, "Sites and relays"): a host at a school that the manager
// reaches by unicast, and that multicasts on its school's LAN what the manager sends it in relay
// frames (protocol/relay/frame.hpp), byte for byte. The hosts behind it check every line and
// packet against the manager's key as if the manager were on their LAN; their replies go to the
// manager's address by unicast (routed), unchanged.
//
// The relay adds no trust and takes none away; what it checks only keeps it from being used to
// flood its LAN: a frame is forwarded only when it comes from a source that sent, within the
// last kPinFor, a ctrl line the manager's key verifies (each new ctrl line is verified, within
// the budget of verify_budget.hpp; a line verified before is known by its hash). Everything else
// is dropped and counted by reason. Pure: no sockets, the time is passed in.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <utility>

#include "protocol/control.hpp"
#include "protocol/drops.hpp"
#include "protocol/relay/frame.hpp"
#include "protocol/verify_budget.hpp"

namespace fleetcast::receiver {

struct RelayCounters {
  std::uint64_t frames = 0;     // frames received
  std::uint64_t forwarded = 0;  // datagrams multicast on the LAN
  std::uint64_t forwarded_bytes = 0;
  protocol::Drops dropped;
};

class SiteRelay {
 public:
  static constexpr auto kPinFor = std::chrono::minutes(10);
  static constexpr std::size_t kMaxPinned = 4;

  // `ctrl`: the ctrl group and port (frames for it carry lines, the others data packets).
  SiteRelay(protocol::PublicKey manager, protocol::Endpoint ctrl);

  // A frame from `from`: what to multicast on the LAN (or, `feedback`, a host's NAK to repair
  // here), or nullopt (dropped, counted).
  std::optional<protocol::RelayFrame> on_frame(std::span<const std::uint8_t> bytes,
                                               const protocol::Endpoint& from,
                                               Clock::time_point now);
  const RelayCounters& counters() const { return counters_; }
  const protocol::Endpoint& ctrl() const { return ctrl_; }

 private:
  // A ctrl line the manager signed (verified under the budget); drops are counted.
  bool manager_line(std::span<const std::uint8_t> datagram, const protocol::Endpoint& from,
                    Clock::time_point now);
  bool pinned(const protocol::Address& a, Clock::time_point now) const;
  void pin(const protocol::Address& a, Clock::time_point now);

  protocol::PublicKey manager_;
  protocol::KeyId manager_id_;
  protocol::Endpoint ctrl_;
  protocol::VerifyBudget budget_;
  std::deque<std::pair<protocol::Address, Clock::time_point>> pinned_;  // newest last
  RelayCounters counters_;
};

}  // namespace fleetcast::receiver
