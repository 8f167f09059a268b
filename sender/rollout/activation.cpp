#include "sender/rollout/activation.hpp"

#include <algorithm>
#include <stdexcept>

namespace fleetcast::sender {
namespace p = protocol;

Activation::Activation(ActivationConfig config, const std::vector<const Host*>& hosts,
                       const p::SecretKey& key, Clock::time_point now)
    : config_(std::move(config)),
      key_(key),
      fleet_(p::fleet_key(key_)),
      receipts_(hosts, config_.name, config_.session),
      start_(now),
      next_send_(now) {
  receipts_.authenticate(key_);
  // As many host names per line as fit one datagram (and the targets= list).
  p::Activate probe{config_.name, config_.session,  config_.version, config_.digest, config_.wave,
                    {},           config_.wall_time};
  for (const Host* h : hosts) {
    if (!chunks_.empty()) {
      probe.targets.entries = chunks_.back();
      probe.targets.entries.push_back(h->name);
      if (p::encode_maced_command(probe, key_, fleet_)) {
        chunks_.back().push_back(h->name);
        continue;
      }
    }
    chunks_.push_back({h->name});
  }
  done_ = hosts.empty();
}

std::optional<p::FinStatus> Activation::result(std::size_t host) const {
  const HostReport& h = receipts_.hosts().at(host);
  if (!h.fin || h.fin_status == p::FinStatus::held) return std::nullopt;
  return h.fin_status;
}

bool Activation::all_reported() const {
  for (std::size_t i = 0; i < receipts_.hosts().size(); ++i) {
    if (!result(i)) return false;
  }
  return true;
}

void Activation::on_datagram(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                             Clock::time_point now) {
  const std::string_view line(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!receipts_.on_command(line, from, now)) ++dropped_;
  if (!done_ && all_reported()) done_ = true;
}

void Activation::send(Clock::time_point now, p::Transport& t) {
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - start_);
  for (const auto& names : chunks_) {
    p::Activate a{config_.name,
                  config_.session,
                  config_.version,
                  config_.digest,
                  config_.wave,
                  p::Targets{names},
                  config_.wall_time + static_cast<std::uint64_t>(elapsed.count())};
    auto line = p::encode_maced_command(a, key_, fleet_);
    if (!line) throw std::logic_error("ACTIVATE does not encode: " + p::to_string(line.failure()));
    const p::Datagram d{p::as_bytes(line.value()), config_.ctrl_group};
    if (t.send(std::span(&d, 1)) == 1) ++sent_;  // a full socket: the next repeat goes out
  }
  next_send_ = now + config_.interval;
}

void Activation::tick(Clock::time_point now, p::Transport& t) {
  if (done_) return;
  if (all_reported()) {
    done_ = true;
    return;
  }
  if (now - start_ >= config_.timeout) {
    done_ = timed_out_ = true;
    return;
  }
  if (now >= next_send_ && now < config_.stop_sending) send(now, t);
}

Clock::time_point Activation::next_wakeup(Clock::time_point now) const {
  if (done_) return now + 1h;
  const auto send_at = next_send_ < config_.stop_sending ? next_send_ : Clock::time_point::max();
  return std::max(now, std::min(send_at, start_ + config_.timeout));
}

}  // namespace fleetcast::sender
