#pragma once
// What a manager's delivery sessions sent and dropped, summed over sessions: the counters the
// web view exports (/metrics). Added up once a session ends (rollout.hpp), and read live for the
// session still running.

#include <array>
#include <cstdint>

#include "protocol/drops.hpp"
#include "sender/delivery/session.hpp"

namespace fleetcast::sender {

struct DeliveryTotals {
  std::uint64_t sessions = 0;
  std::uint64_t rounds = 0;
  std::uint64_t wire_bytes = 0;  // every datagram incl. IPv6 + UDP headers
  std::uint64_t packets = 0;     // data, parity, mixed, auth and control
  std::array<std::uint64_t, protocol::kDropReasons> dropped{};  // the hosts' replies, by reason

  void add(const SenderSession& s) {
    const SessionStats& st = s.stats();
    ++sessions;
    rounds += st.rounds;
    wire_bytes += st.wire_bytes;
    packets += st.data_packets + st.parity_packets + st.mixed_packets + st.auth_packets +
               st.roots_packets + st.control_packets;
    for (std::size_t d = 0; d < protocol::kDropReasons; ++d) {
      dropped[d] += s.receipts().drops()[static_cast<protocol::Drop>(d)];
    }
  }
  DeliveryTotals& operator+=(const DeliveryTotals& o) {
    sessions += o.sessions;
    rounds += o.rounds;
    wire_bytes += o.wire_bytes;
    packets += o.packets;
    for (std::size_t d = 0; d < dropped.size(); ++d) dropped[d] += o.dropped[d];
    return *this;
  }
};

}  // namespace fleetcast::sender
