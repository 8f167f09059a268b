#include "protocol/verify_budget.hpp"

#include <sodium.h>

#include <algorithm>

namespace fleetcast::protocol {

LineHash VerifyBudget::hash(std::span<const std::uint8_t> bytes) {
  LineHash h{};
  crypto_generichash(h.data(), h.size(), bytes.data(), bytes.size(), nullptr, 0);
  return h;
}

void VerifiedCache::add(const LineHash& h) {
  if (!cached_.insert(h).second) return;
  order_.push_back(h);
  if (order_.size() > size_) {
    cached_.erase(order_.front());
    order_.pop_front();
  }
}

bool SecondWindow::take(Clock::time_point now, std::uint32_t limit) {
  if (now - start_ >= std::chrono::seconds(1)) {
    start_ = now;
    used_ = 0;
  }
  if (used_ >= limit) return false;
  ++used_;
  return true;
}

VerifyBudget::Source* VerifyBudget::source(const Address& from, Clock::time_point now) {
  auto it = sources_.find(from);
  if (it == sources_.end()) {
    if (sources_.size() >= kMaxSources) {
      // A flood from many addresses must not grow the table: forget the sources that are
      // neither waiting out a penalty nor counting in the current second. At most one sweep
      // per kSweepEvery: a flood from fresh addresses must not cost a table scan per packet.
      if (now - swept_ < kSweepEvery) return nullptr;
      swept_ = now;
      std::erase_if(sources_, [&](const auto& s) {
        return s.second.penalty_until <= now && !s.second.window.busy(now);
      });
      if (sources_.size() >= kMaxSources) return nullptr;
    }
    it = sources_.emplace(from, Source{}).first;
  }
  return &it->second;
}

bool VerifyBudget::admit(const text::Endpoint& from, Clock::time_point now) {
  for (Pinned& p : pinned_) {
    if (p.address != from.address) continue;
    if (p.window.take(now, limits_.pinned)) return true;
    ++refused_;
    return false;
  }
  Source* s = source(from.address, now);
  const bool ok =
      (s == nullptr || (s->penalty_until <= now && s->window.take(now, limits_.per_source))) &&
      shared_.take(now, limits_.shared);
  if (!ok) ++refused_;
  return ok;
}

void VerifyBudget::failed(const text::Endpoint& from, Clock::time_point now) {
  if (pinned(from.address)) return;  // its budget bounds a spoofed flood already
  if (Source* s = source(from.address, now)) s->penalty_until = now + kPenalty;
}

void VerifyBudget::pin(const Address& address) {
  if (pinned(address)) return;
  if (pinned_.size() == kMaxPinned) pinned_.erase(pinned_.begin());
  pinned_.push_back(Pinned{address, {}});
  sources_.erase(address);
}

bool VerifyBudget::pinned(const Address& address) const {
  return std::any_of(pinned_.begin(), pinned_.end(),
                     [&](const Pinned& p) { return p.address == address; });
}

}  // namespace fleetcast::protocol
