#include "receiver/relay/relay.hpp"

#include <algorithm>
#include <string_view>

#include "protocol/fleet_key.hpp"
#include "protocol/freshness.hpp"
#include "protocol/signature.hpp"

namespace fleetcast::receiver {
namespace p = protocol;

SiteRelay::SiteRelay(p::PublicKey manager, p::Endpoint ctrl)
    : manager_(manager), manager_id_(p::key_id(manager)), ctrl_(ctrl) {}

bool SiteRelay::pinned(const p::Address& a, Clock::time_point now) const {
  return std::any_of(pinned_.begin(), pinned_.end(),
                     [&](const auto& e) { return e.first == a && now - e.second < kPinFor; });
}

void SiteRelay::pin(const p::Address& a, Clock::time_point now) {
  std::erase_if(pinned_, [&](const auto& e) { return e.first == a; });
  pinned_.push_back({a, now});
  if (pinned_.size() > kMaxPinned) pinned_.pop_front();
}

bool SiteRelay::manager_line(std::span<const std::uint8_t> datagram, const p::Endpoint& from,
                             Clock::time_point now) {
  const std::string_view raw(reinterpret_cast<const char*>(datagram.data()), datagram.size());
  const std::string_view line = p::split_line_mac(raw).signed_line;
  auto parsed = p::parse_command(line);
  if (!parsed || parsed->signer != manager_id_ || !p::stamp_of(parsed->command)) {
    counters_.dropped.count(parsed ? p::Drop::not_ours : p::Drop::malformed);
    return false;
  }
  using Verdict = p::VerifyBudget::Verdict;
  switch (budget_.check(p::as_bytes(line), from, now,
                        [&] { return p::verify_command(parsed.value(), manager_); })) {
    case Verdict::known:
    case Verdict::verified:
      // The manager's address, from what it signed: its own budget from now on, which a
      // flood of forged lines from elsewhere (or under its address) cannot spend.
      if (const auto* u = std::get_if<p::Update>(&parsed->command)) budget_.pin(u->reply.address);
      return true;
    case Verdict::over_budget:
      counters_.dropped.count(p::Drop::over_budget);
      return false;
    case Verdict::forged:
      break;
  }
  counters_.dropped.count(p::Drop::forged);
  return false;
}

std::optional<p::RelayFrame> SiteRelay::on_frame(std::span<const std::uint8_t> bytes,
                                                 const p::Endpoint& from, Clock::time_point now) {
  ++counters_.frames;
  auto frame = p::decode_relay_frame(bytes);
  if (!frame) {
    counters_.dropped.count(p::Drop::malformed);
    return std::nullopt;
  }
  const std::string_view raw(reinterpret_cast<const char*>(frame->datagram.data()),
                             frame->datagram.size());
  if (!frame->feedback && frame->to == ctrl_ && !p::is_keys_line(raw)) {
    // A signed line: forwarded when the manager signed it, and its source pinned for the data.
    if (!manager_line(frame->datagram, from, now)) return std::nullopt;
    pin(from.address, now);
  } else if (!pinned(from.address, now)) {
    counters_.dropped.count(p::Drop::not_ours);
    return std::nullopt;
  }
  ++counters_.forwarded;
  counters_.forwarded_bytes += frame->datagram.size();
  return frame;
}

}  // namespace fleetcast::receiver
