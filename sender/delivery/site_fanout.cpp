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

void SiteFanout::count(std::size_t relay, std::size_t bytes) {
  if (relay == kOriginal) return;
  ++stats_[relay].frames;
  stats_[relay].bytes += bytes;
}

bool SiteFanout::flush() {
  while (!waiting_.empty()) {
    const Copy& c = waiting_.front();
    const p::Datagram d{c.bytes, c.to};
    if (base_.send({&d, 1}) == 0) return false;
    count(c.relay, c.bytes.size());
    waiting_.pop_front();
  }
  return true;
}

std::size_t SiteFanout::send(std::span<const p::Datagram> datagrams) {
  if (!flush()) return 0;
  out_.clear();
  relay_of_.clear();
  std::size_t framed = 0;
  for (const p::Datagram& d : datagrams) {
    out_.push_back({d.bytes, d.to});  // the caller's bytes: copied only if left waiting
    relay_of_.push_back(kOriginal);
    if (!d.to.is_multicast()) continue;
    for (std::size_t r = 0; r < stats_.size(); ++r) {
      if (d.relays != nullptr &&
          std::find(d.relays->begin(), d.relays->end(), stats_[r].relay) == d.relays->end()) {
        continue;  // no host of that site needs it
      }
      if (framed == frames_.size()) frames_.emplace_back();
      p::encode_relay_frame(d.bytes, d.to, frames_[framed]);
      out_.push_back({frames_[framed++], stats_[r].relay});
      relay_of_.push_back(r);
    }
  }
  const std::size_t taken = base_.send(out_);
  for (std::size_t i = 0; i < out_.size(); ++i) {
    if (i < taken) {
      count(relay_of_[i], out_[i].bytes.size());
    } else {
      waiting_.push_back({{out_[i].bytes.begin(), out_[i].bytes.end()}, out_[i].to, relay_of_[i]});
    }
  }
  return datagrams.size();
}

}  // namespace fleetcast::sender
