#pragma once
// The one place fleetcast makes socket system calls: a non-blocking IPv6 UDP socket with
// multicast membership (any-source and source-specific), batched send (sendmmsg) and receive
// (recvmmsg). Sessions take it by reference through the Transport seam (session code never
// includes this header). Set-up failures throw SocketError naming the call and errno; errors
// while running are counted and reported by return value, never thrown.

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/transport.hpp"

namespace fleetcast::protocol::io {

class SocketError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using text::Endpoint;

// Interface index of a name ("br0", "eth0"); throws SocketError when unknown.
unsigned interface_index(const std::string& name);
// The first global or unique-local IPv6 address of an interface; throws when there is none.
std::array<std::uint8_t, 16> interface_address(const std::string& name);
// The interface's MTU (SIOCGIFMTU); throws when the interface does not exist.
std::size_t interface_mtu(const std::string& name);

class UdpSocket : public Transport {
 public:
  // A socket that receives a multicast group's datagrams: binds [::]:port (0 = ephemeral) with
  // SO_REUSEADDR (several receivers of one host may listen on the group's port), non-blocking.
  UdpSocket(std::uint16_t port, unsigned interface);
  // A unicast socket (replies, feedback, and what a manager sends): binds [address]:port
  // (all zeros: [::]) WITHOUT SO_REUSEADDR, so no other user of the machine can bind the same
  // port, on this address or any, and take its datagrams. IPV6_FREEBIND: the address may still
  // be tentative (duplicate address detection on an interface just brought up).
  UdpSocket(const std::array<std::uint8_t, 16>& address, std::uint16_t port, unsigned interface);
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() override;

  // Any-source join, or source-specific (ff3x::/32) when source is given.
  void join(const Endpoint& group, const std::array<std::uint8_t, 16>* source = nullptr);
  void leave(const Endpoint& group);
  // Outgoing multicast: interface, hop limit, and whether local listeners hear our own packets.
  void set_multicast(int hop_limit, bool loopback);
  void set_buffer_sizes(int bytes);
  // How full the receive buffer is, per 10000 of its size (0 where the kernel cannot say).
  std::uint16_t receive_backlog() const;

  // Sends each datagram; returns how many left (the rest hit EAGAIN / ENOBUFS: retry later).
  std::size_t send(std::span<const Datagram> datagrams) override;
  bool send(std::span<const std::uint8_t> bytes, const Endpoint& to);
  // The same from the given source address (IPV6_PKTINFO), one of this host's addresses (a
  // multi-homed sender; the test attacker sends from many).
  bool send_from(std::span<const std::uint8_t> bytes, const Endpoint& to,
                 const std::array<std::uint8_t, 16>& source);

  // Receives up to `slots` datagrams into buffers of `slot_size` bytes (one recvmmsg call).
  struct Received {
    std::span<const std::uint8_t> bytes;  // into `buffer`
    Endpoint from;
  };
  std::span<const Received> receive(std::span<std::uint8_t> buffer, std::size_t slot_size);

  int fd() const { return fd_; }
  std::uint16_t local_port() const;
  std::uint64_t send_errors() const { return send_errors_; }

 private:
  void bind_to(const std::array<std::uint8_t, 16>& address, std::uint16_t port, bool shared);
  int fd_ = -1;
  unsigned interface_ = 0;
  std::uint64_t send_errors_ = 0;
  std::vector<Received> received_;
};

}  // namespace fleetcast::protocol::io
