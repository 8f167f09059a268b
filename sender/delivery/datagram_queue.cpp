#include "sender/delivery/datagram_queue.hpp"

#include <algorithm>
#include <cassert>

namespace fleetcast::sender {

DatagramQueue::DatagramQueue(std::size_t slots, std::size_t slot_bytes)
    : slots_(slots), buffer_(slots * slot_bytes) {
  pending_.reserve(slots);
}

std::span<std::uint8_t> DatagramQueue::next_slot() {
  assert(!full());
  const std::size_t slot = buffer_.size() / slots_;
  return std::span(buffer_).subspan(used_ * slot, slot);
}

void DatagramQueue::commit(std::size_t n, const protocol::text::Endpoint& to,
                           const std::vector<protocol::text::Endpoint>* relays) {
  pending_.push_back(protocol::Datagram{next_slot().first(n), to, relays});
  ++used_;
}

void DatagramQueue::push(std::span<const std::uint8_t> bytes, const protocol::text::Endpoint& to) {
  std::copy(bytes.begin(), bytes.end(), next_slot().begin());
  commit(bytes.size(), to);
}

bool DatagramQueue::flush(protocol::Transport& t) {
  if (next_ < pending_.size()) next_ += t.send(std::span(pending_).subspan(next_));
  if (next_ < pending_.size()) return false;
  pending_.clear();
  next_ = 0;
  used_ = 0;
  return true;
}

}  // namespace fleetcast::sender
