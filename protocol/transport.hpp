#pragma once
// The seam between sessions and sockets. Sessions hand datagrams to a Transport; main() backs it
// with protocol/io/udp_socket.hpp, unit tests with an in-memory stub. No system calls here.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/text.hpp"

namespace fleetcast::protocol {

struct Datagram {
  std::span<const std::uint8_t> bytes;
  text::Endpoint to;
  // A multicast datagram that only some sites' relays need (a repair round's symbols of a
  // block: sender/delivery/site_fanout.hpp): those relays. nullptr: every relay.
  const std::vector<text::Endpoint>* relays = nullptr;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends datagrams in order; returns how many were taken. The rest met a full socket buffer
  // and should be offered again later (the caller keeps them).
  virtual std::size_t send(std::span<const Datagram> datagrams) = 0;
};

}  // namespace fleetcast::protocol
