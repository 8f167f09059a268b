#include <algorithm>

#include "protocol/relay/frame.hpp"
#include "sender/delivery/session.hpp"

// The session's sites (protocol/README.md, "Sites and relays"): which relay feeds and repairs
// each host, what a repair round sends to which relay, the NAKs passed on.

namespace fleetcast::sender {
namespace p = protocol;

void SenderSession::map_sites(const std::vector<const Host*>& targets) {
  for (const auto& site : config_.relayed_sites) {
    const auto is_relay = [&](const Host* h) { return h->name == site.relay; };
    const auto relay = std::find_if(targets.begin(), targets.end(), is_relay);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      if (std::find(site.hosts.begin(), site.hosts.end(), targets[i]->name) == site.hosts.end()) {
        continue;
      }
      if (site_relays_.empty() || site_relays_.back() != site.at) site_relays_.push_back(site.at);
      fed_by_[i] = site_relays_.size() - 1;
      if (relay != targets.end() && !is_relay(targets[i])) {
        repaired_by_[i] = static_cast<std::size_t>(relay - targets.begin());
      }
    }
  }
}

// Per block: the relays that feed a host needing it in this round (a host of no site needs the
// group, which is always sent). Up to 64 relays are told apart; beyond, every relay gets all.
void SenderSession::scope_round_to_sites() {
  block_relays_.clear();
  if (relay_sets_.size() == 4) relay_sets_.pop_back();
  auto& sets = relay_sets_.emplace_front();
  const auto& relays = site_relays_;
  if (relays.empty() || relays.size() > 64) return;
  std::vector<std::uint64_t> mask(plan_.block_count(), 0);
  for (std::size_t i = 0; i < host_needs_.size(); ++i) {
    if (!fed_by_[i]) continue;
    const auto bit = std::uint64_t{1} << *fed_by_[i];
    for (const p::NakEntry& e : host_needs_[i]) {
      const auto end = std::min<std::uint64_t>(std::uint64_t{e.first_block} + e.run, mask.size());
      for (std::uint64_t b = e.first_block; b < end; ++b) mask[b] |= bit;
    }
  }
  // And the blocks whose AUTH chunks a host asked for (a NAK may name no block but ask for them).
  for (const auto& [host, b] : chunk_askers_) {
    if (fed_by_[host] && b < mask.size()) mask[b] |= std::uint64_t{1} << *fed_by_[host];
  }
  std::vector<std::uint64_t> seen;
  block_relays_.resize(mask.size());
  for (std::size_t b = 0; b < mask.size(); ++b) {
    auto at = std::find(seen.begin(), seen.end(), mask[b]);
    if (at == seen.end()) {
      seen.push_back(mask[b]);
      auto& set = sets.emplace_back();
      for (std::size_t r = 0; r < relays.size(); ++r) {
        if (mask[b] & (std::uint64_t{1} << r)) set.push_back(relays[r]);
      }
      at = seen.end() - 1;
    }
    block_relays_[b] = static_cast<std::uint32_t>(at - seen.begin());
  }
}

bool SenderSession::repaired_at_site(std::size_t host) const {
  // A relay that refused the session never holds the file: its site is repaired from here.
  return repaired_by_[host] && !hosts()[*repaired_by_[host]].denied;
}

void SenderSession::pass_to_relay(std::span<const std::uint8_t> nak, const p::Endpoint& relay) {
  if (out_.full()) return;  // the host asks again after the next round marker
  p::encode_relay_feedback(nak, nak_frame_);
  queue(nak_frame_, relay);
  ++stats_.naks_to_relays;
}

}  // namespace fleetcast::sender
