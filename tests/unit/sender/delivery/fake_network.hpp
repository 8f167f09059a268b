#pragma once
// The in-memory network the fake-clock tests run manager and agents over: datagrams in flight
// with their source, and a Transport that queues what a party sends.

#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/text.hpp"
#include "protocol/transport.hpp"

namespace fleetcast::testing {

inline protocol::Endpoint endpoint(std::string_view text) {
  return protocol::text::parse_endpoint(text, "").value();
}

inline const protocol::Endpoint kCtrl = endpoint("[ff15::f1ee:1]:4710");
inline const protocol::Endpoint kData = endpoint("[ff15::f1ee:2]:4711");
inline const protocol::Endpoint kReply = endpoint("[fd00::1]:4712");

// A datagram in flight, with its source.
struct Packet {
  std::vector<std::uint8_t> bytes;
  protocol::Endpoint to;
  protocol::Endpoint from;
};

class Outbox : public protocol::Transport {
 public:
  Outbox(std::deque<Packet>& q, protocol::Endpoint self) : q_(q), self_(self) {}
  std::size_t send(std::span<const protocol::Datagram> ds) override {
    for (const auto& d : ds) q_.push_back({{d.bytes.begin(), d.bytes.end()}, d.to, self_});
    return ds.size();
  }

 private:
  std::deque<Packet>& q_;
  protocol::Endpoint self_;
};

}  // namespace fleetcast::testing
