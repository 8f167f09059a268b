#pragma once
// Datagrams built in place, then offered to the transport in batches. The session never blocks
// on a full socket: what the transport does not take now stays queued for the next tick, and
// nothing new is built while a slot is still in use.

#include <cstdint>
#include <span>
#include <vector>

#include "protocol/transport.hpp"

namespace fleetcast::sender {

class DatagramQueue {
 public:
  // `slots` datagrams of at most `slot_bytes` each.
  DatagramQueue(std::size_t slots, std::size_t slot_bytes);

  // The next free slot, to build a datagram in. Precondition: !full().
  std::span<std::uint8_t> next_slot();
  // Queues the first `n` bytes of next_slot() for `to` (and, multicast, `relays`: Datagram).
  void commit(std::size_t n, const protocol::text::Endpoint& to,
              const std::vector<protocol::text::Endpoint>* relays = nullptr);
  // Copies `bytes` into the next slot and queues them. Precondition: !full().
  void push(std::span<const std::uint8_t> bytes, const protocol::text::Endpoint& to);
  // Offers what is queued; true when nothing is left afterwards (the slots are free again).
  bool flush(protocol::Transport& t);

  bool full() const { return used_ == slots_; }
  bool empty() const { return pending_.empty(); }
  std::size_t used() const { return used_; }

 private:
  std::size_t slots_;
  std::vector<std::uint8_t> buffer_;
  std::vector<protocol::Datagram> pending_;
  std::size_t next_ = 0;  // first datagram of pending_ not yet taken by the transport
  std::size_t used_ = 0;  // slots holding a datagram
};

}  // namespace fleetcast::sender
