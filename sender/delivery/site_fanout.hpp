#pragma once
// One copy per site: a Transport in front of the manager's socket that sends every multicast
// datagram to its group (the LANs the manager's multicast reaches) and, in a relay frame
// (protocol/relay/frame.hpp), to the relay of each site the session reaches by unicast
// (fleet/site.hpp). Unicast datagrams pass through unchanged. The datagram is the same bytes on
// every path: hosts behind a relay check what the manager signed, as hosts on its LAN do. A
// datagram that names its relays (Datagram::relays: a repair round's symbols of a block that
// only some sites need) goes to those relays only.
//
// A datagram is taken whole: what the socket buffer does not take of its copies waits here and
// goes first on the next send() or flush(); a send() while copies wait takes nothing.

#include <cstdint>
#include <deque>
#include <vector>

#include "protocol/transport.hpp"

namespace fleetcast::sender {

class SiteFanout : public protocol::Transport {
 public:
  SiteFanout(protocol::Transport& base, std::vector<protocol::text::Endpoint> relays);

  std::size_t send(std::span<const protocol::Datagram> datagrams) override;
  // Offers the waiting copies again; true when none is left.
  bool flush();
  bool idle() const { return waiting_.empty(); }

  struct RelayStats {
    protocol::text::Endpoint relay;
    std::uint64_t frames = 0;
    std::uint64_t bytes = 0;  // frame bytes handed to the socket (without IPv6 + UDP)
  };
  const std::vector<RelayStats>& stats() const { return stats_; }

 private:
  // A copy the socket did not take, kept until it does.
  struct Copy {
    std::vector<std::uint8_t> bytes;
    protocol::text::Endpoint to;
    std::size_t relay;  // index into stats_, or npos for the original
  };
  void count(std::size_t relay, std::size_t bytes);

  protocol::Transport& base_;
  std::vector<RelayStats> stats_;
  std::deque<Copy> waiting_;
  // Reused by every send(): the frames of the relays' copies (their capacity stays, so a
  // session's datagrams cost no allocation), the datagrams offered and whose copy each is.
  std::vector<std::vector<std::uint8_t>> frames_;
  std::vector<protocol::Datagram> out_;
  std::vector<std::size_t> relay_of_;
};

}  // namespace fleetcast::sender
