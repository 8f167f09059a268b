#include "sender/delivery/site_fanout.hpp"

#include <algorithm>

#include "protocol/relay/frame.hpp"

namespace fleetcast::sender {
namespace p = protocol;

namespace {
constexpr std::size_t kOriginal = static_cast<std::size_t>(-1);
}

SiteFanout::SiteFanout(p::Transport& base, std::vector<p::text::Endpoint> relays) : base_(base) {
  for (const auto& r : relays) stats_.push_back({r});
}

void SiteFanout::count(const Copy& c) {
  if (c.relay == kOriginal) return;
  ++stats_[c.relay].frames;
  stats_[c.relay].bytes += c.bytes.size();
}

bool SiteFanout::flush() {
  while (!waiting_.empty()) {
    const Copy& c = waiting_.front();
    const p::Datagram d{c.bytes, c.to};
    if (base_.send({&d, 1}) == 0) return false;
    count(c);
    waiting_.pop_front();
  }
  return true;
}

std::size_t SiteFanout::send(std::span<const p::Datagram> datagrams) {
  if (!flush()) return 0;
  batch_.resize(0);
  for (const p::Datagram& d : datagrams) {
    batch_.push_back({std::vector<std::uint8_t>(d.bytes.begin(), d.bytes.end()), d.to, kOriginal});
    if (!d.to.is_multicast()) continue;
    for (std::size_t r = 0; r < stats_.size(); ++r) {
      if (d.relays != nullptr &&
          std::find(d.relays->begin(), d.relays->end(), stats_[r].relay) == d.relays->end()) {
        continue;  // no host of that site needs it
      }
      Copy c{{}, stats_[r].relay, r};
      p::encode_relay_frame(d.bytes, d.to, c.bytes);
      batch_.push_back(std::move(c));
    }
  }
  std::vector<p::Datagram> out;
  out.reserve(batch_.size());
  for (const Copy& c : batch_) out.push_back({c.bytes, c.to});
  const std::size_t taken = base_.send(out);
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    if (i < taken) {
      count(batch_[i]);
    } else {
      waiting_.push_back(std::move(batch_[i]));
    }
  }
  return datagrams.size();
}

}  // namespace fleetcast::sender
