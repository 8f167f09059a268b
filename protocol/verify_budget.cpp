#include "protocol/verify_budget.hpp"

#include <sodium.h>

#include <algorithm>

namespace fleetcast::protocol {

LineHash VerifyBudget::hash(std::span<const std::uint8_t> bytes) {
  LineHash h{};
  crypto_generichash(h.data(), h.size(), bytes.data(), bytes.size(), nullptr, 0);
  return h;
}

bool VerifyBudget::known(const LineHash& h) const {
  return cached_.count(h) != 0;
}

VerifyBudget::Source& VerifyBudget::source(const text::Endpoint& from, Clock::time_point now) {
  constexpr std::size_t kMaxSources = 1024;
  if (sources_.size() >= kMaxSources && !sources_.count(from.address)) {
    // Forget sources that are neither trusted nor waiting out a penalty (a flood from many
    // addresses must not grow this map).
    std::erase_if(sources_, [&](const auto& s) {
      return s.second.trusted_until <= now && s.second.penalty_until <= now;
    });
    if (sources_.size() >= kMaxSources) sources_.erase(sources_.begin());
  }
  Source& s = sources_[from.address];
  if (now - s.second >= std::chrono::seconds(1)) {
    s.second = now;
    s.failures = 0;
  }
  return s;
}

bool VerifyBudget::admit(const text::Endpoint& from, Clock::time_point now) {
  Source& s = source(from, now);
  if (s.trusted_until > now) {
    if (s.failures < limits_.trusted_failures) return true;
  } else if (s.penalty_until <= now) {
    if (now - second_ >= std::chrono::seconds(1)) {
      second_ = now;
      untrusted_ = 0;
    }
    if (untrusted_ < limits_.untrusted_per_second) {
      ++untrusted_;
      return true;
    }
  }
  ++refused_;
  return false;
}

void VerifyBudget::verified(const LineHash& h, const text::Endpoint& from, Clock::time_point now) {
  if (cached_.insert(h).second) {
    cache_.push_back(h);
    if (cache_.size() > kVerifiedCache) {
      cached_.erase(cache_.front());
      cache_.pop_front();
    }
  }
  source(from, now).trusted_until = now + kTrustedFor;
}

void VerifyBudget::failed(const text::Endpoint& from, Clock::time_point now) {
  Source& s = source(from, now);
  ++s.failures;
  if (s.trusted_until <= now) s.penalty_until = now + kPenalty;
}

}  // namespace fleetcast::protocol
