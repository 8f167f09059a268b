#include "sender/delivery/receipts.hpp"

#include <algorithm>
#include <unordered_set>

namespace fleetcast::sender {
namespace p = protocol;

Receipts::Receipts(const std::vector<const Host*>& targets, std::string name, p::SessionId session)
    : name_(std::move(name)), session_(session) {
  for (const Host* h : targets) {
    HostReport r;
    r.host = h;
    index_.emplace(p::key_id(h->key).value, hosts_.size());
    hosts_.push_back(std::move(r));
  }
}

void Receipts::authenticate(const p::SecretKey& manager,
                            const std::vector<std::string>& fleet_key_holders) {
  manager_ = &manager;
  mac_keys_.assign(hosts_.size(), std::nullopt);
  wrap_keys_.assign(hosts_.size(), std::nullopt);
  keys_sent_.assign(hosts_.size(), 0);
  keys_at_.assign(hosts_.size(), 0);
  feedback_spent_.assign(hosts_.size(), {});
  const std::unordered_set<std::string> holders(fleet_key_holders.begin(), fleet_key_holders.end());
  keyed_.clear();
  for (const HostReport& h : hosts_) keyed_.push_back(holders.contains(h.host->name));
}

std::map<std::string, bool> Receipts::fleet_keys_said() const {
  std::map<std::string, bool> out;
  for (const HostReport& h : hosts_) {
    if (h.fleet_key) out[h.host->name] = *h.fleet_key;
  }
  return out;
}

HostReport* Receipts::host_by_key(p::KeyId id) {
  const auto it = index_.find(id.value);
  return it == index_.end() ? nullptr : &hosts_[it->second];
}

const p::MacKey* Receipts::mac_key(const HostReport& h) {
  auto& mac = mac_keys_[index_of(h)];
  if (!mac) mac = p::feedback_mac_key(*manager_, h.host->key);
  return mac ? &*mac : nullptr;
}

std::vector<p::KeysRecipient> Receipts::take_keys_recipients() {
  std::vector<p::KeysRecipient> out;
  if (manager_ == nullptr) return out;
  ++announcement_;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    if (hosts_[i].fleet_key.value_or(keyed_[i])) continue;  // it said so, or said so before
    if (hosts_[i].registered && keys_sent_[i] >= kKeysCopies) continue;
    if (!hosts_[i].registered && keys_sent_[i] > 0 && announcement_ - keys_at_[i] < kKeysEvery) {
      continue;
    }
    if (!wrap_keys_[i]) wrap_keys_[i] = p::fleet_wrap_key(*manager_, hosts_[i].host->key);
    if (!wrap_keys_[i]) continue;  // not a valid curve point: this host cannot be reached
    keys_at_[i] = announcement_;
    ++keys_sent_[i];
    out.push_back({p::key_id(hosts_[i].host->key), *wrap_keys_[i]});
  }
  return out;
}

bool Receipts::on_command(std::string_view maced, const p::Endpoint& from, Clock::time_point now) {
  const p::MacedLine split = p::split_line_mac(maced);
  const std::string_view line = split.signed_line;
  const auto parsed = p::parse_command(line);
  if (!parsed) return drop(p::Drop::malformed);
  HostReport* h = host_by_key(parsed->signer);
  if (h == nullptr) return drop(p::Drop::not_ours);  // unknown host: no verification either
  if (manager_ != nullptr) {
    // The MAC first: a line that copies a host's key ID costs one short keyed hash.
    const p::MacKey* mac = mac_key(*h);
    if (mac == nullptr || !p::line_mac_ok(split, *mac)) return drop(p::Drop::no_mac);
  }
  // Verified once per distinct line (hosts repeat their FIN), within the budget.
  const auto verdict = budget_.check(p::as_bytes(line), from, now, [&] {
    return p::verify_command(parsed.value(), h->host->key);
  });
  if (verdict == p::VerifyBudget::Verdict::over_budget) return drop(p::Drop::over_budget);
  if (verdict == p::VerifyBudget::Verdict::forged) return drop(p::Drop::forged);
  if (const auto* r = std::get_if<p::Recv>(&parsed->command)) {
    if (r->session != session_ || r->host != h->host->name || r->name != name_) {
      return drop(p::Drop::not_ours);
    }
    if (!h->registered) {
      h->registered = true;
      h->registered_at = now;
      h->have_at_registration = r->have;
      h->from = from;
    }
    h->fleet_key = r->fleet == 1;
  } else if (const auto* f = std::get_if<p::Fin>(&parsed->command)) {
    if (f->session != session_ || f->host != h->host->name || f->name != name_) {
      return drop(p::Drop::not_ours);
    }
    if (!h->fin) h->fin_at = now;
    h->fin = true;
    h->fin_status = f->status;
    h->fin_message = f->message;
    h->fin_version = f->version;
    h->fin_digest = f->digest;
  } else if (const auto* d = std::get_if<p::Deny>(&parsed->command)) {
    if (d->session != session_ || d->host != h->host->name) return drop(p::Drop::not_ours);
    h->denied = true;
    h->deny_reason = d->reason;
  } else {
    return drop(p::Drop::malformed);  // a manager's verb
  }
  note(*h, p::verb(parsed->command), line);
  return true;
}

HostReport* Receipts::mac_checked(const p::SignedFeedback& feedback, p::Drop* why) {
  *why = p::Drop::not_ours;
  if (feedback.session != session_ || manager_ == nullptr) return nullptr;
  HostReport* h = host_by_key(feedback.signer);
  if (h == nullptr) return nullptr;
  const p::MacKey* mac = mac_key(*h);
  *why = p::Drop::no_mac;
  return mac != nullptr && p::check_mac(feedback, *mac) ? h : nullptr;
}

HostReport* Receipts::maced_feedback(const p::SignedFeedback& feedback) {
  p::Drop why{};
  HostReport* h = mac_checked(feedback, &why);
  if (h == nullptr) drops_.count(why);
  if (h != nullptr && !h->registered) drops_.count(p::Drop::not_ours);
  return h != nullptr && h->registered ? h : nullptr;
}

Receipts::Verified Receipts::verified_feedback(
    const p::SignedFeedback& feedback, std::span<const std::uint8_t> bytes, const p::Endpoint& from,
    Clock::time_point now, const std::function<bool(const HostReport&)>& wanted) {
  // The MAC first: a packet that copies a host's key ID costs one short keyed hash.
  p::Drop why{};
  HostReport* h = mac_checked(feedback, &why);
  if (h == nullptr) return drop_feedback(why);
  if (!wanted(*h)) return drop_feedback(p::Drop::unwanted);
  const p::LineHash hash = p::VerifyBudget::hash(bytes);
  const bool repeat = feedback_cache_.known(hash);
  if (!repeat) {
    if (!feedback_spent_[index_of(*h)].take(now, kFeedbackPerSecond)) {
      ++feedback_refused_;
      return drop_feedback(p::Drop::over_budget);
    }
    ++feedback_verifications_;
    if (!p::verify_feedback(feedback, h->host->key)) return drop_feedback(p::Drop::forged);
    feedback_cache_.add(hash);
  }
  if (!h->registered) {
    h->registered = true;
    h->registered_at = now;
    h->from = from;
  }
  return {h, repeat};
}

bool Receipts::complete(HostReport& h, const p::Digest& digest, Clock::time_point now) {
  if (h.completed) return false;
  h.completed = true;
  h.completed_at = now;
  h.digest = digest;
  return true;
}

std::size_t Receipts::registered() const {
  return static_cast<std::size_t>(std::count_if(hosts_.begin(), hosts_.end(),
                                                [](const HostReport& h) { return h.registered; }));
}
std::size_t Receipts::completed() const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(), [](const HostReport& h) { return h.completed; }));
}
std::size_t Receipts::denied() const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(), [](const HostReport& h) { return h.denied; }));
}
bool Receipts::success() const {
  return !hosts_.empty() && completed() == hosts_.size();
}
std::size_t Receipts::fins_with(p::FinStatus status) const {
  return static_cast<std::size_t>(
      std::count_if(hosts_.begin(), hosts_.end(),
                    [&](const HostReport& h) { return h.fin && h.fin_status == status; }));
}
bool Receipts::fins_settled() const {
  return std::all_of(hosts_.begin(), hosts_.end(),
                     [](const HostReport& h) { return !h.completed || h.fin; });
}
bool Receipts::all_settled() const {
  return std::all_of(hosts_.begin(), hosts_.end(),
                     [](const HostReport& h) { return h.completed || h.denied; });
}
bool Receipts::registered_settled() const {
  return std::all_of(hosts_.begin(), hosts_.end(),
                     [](const HostReport& h) { return !h.registered || h.completed || h.denied; });
}

bool Receipts::all_answered(std::uint32_t round) const {
  return std::all_of(hosts_.begin(), hosts_.end(), [&](const HostReport& h) {
    return !h.registered || h.completed || h.denied || h.last_nak_round == round;
  });
}

}  // namespace fleetcast::sender
