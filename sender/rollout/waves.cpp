#include "sender/rollout/waves.hpp"

#include <algorithm>
#include <charconv>

#include "protocol/text.hpp"

namespace fleetcast::sender {

std::optional<Amount> Amount::parse(std::string_view text) {
  Amount a;
  if (!text.empty() && text.back() == '%') {
    a.percent = true;
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 9) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), a.value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (a.percent && a.value > 100) return std::nullopt;
  return a;
}

std::string Amount::to_string() const {
  return std::to_string(value) + (percent ? "%" : "");
}

std::optional<std::vector<Amount>> parse_waves(std::string_view text, std::string* error) {
  std::vector<Amount> steps;
  for (const std::string& item : protocol::text::split(std::string(text), ',')) {
    const auto a = Amount::parse(item);
    if (!a || a->value == 0) {
      if (error) *error = "'" + item + "' is not a host count or a percentage (1-100%)";
      return std::nullopt;
    }
    steps.push_back(*a);
  }
  if (steps.empty()) {
    if (error) *error = "no waves given";
    return std::nullopt;
  }
  return steps;
}

std::vector<std::vector<std::size_t>> plan_waves(const std::vector<Amount>& steps,
                                                 std::size_t hosts) {
  std::vector<std::vector<std::size_t>> waves;
  std::size_t done = 0;
  auto add_until = [&](std::size_t until) {
    until = std::min(until, hosts);
    if (until <= done) return;
    std::vector<std::size_t> wave;
    for (std::size_t h = done; h < until; ++h) wave.push_back(h);
    waves.push_back(std::move(wave));
    done = until;
  };
  for (const Amount& s : steps) {
    add_until(s.percent ? (hosts * s.value + 99) / 100 : s.value);
  }
  add_until(hosts);
  return waves;
}

std::size_t tolerated(const Amount& max_fail, std::size_t of) {
  return max_fail.percent ? of * max_fail.value / 100 : max_fail.value;
}

std::string_view to_string(HostState s) {
  switch (s) {
    case HostState::pending:
      return "pending";
    case HostState::held:
      return "held";
    case HostState::not_held:
      return "not-held";
    case HostState::activated:
      return "activated";
    case HostState::applied:
      return "applied";
    case HostState::failed:
      return "failed";
  }
  return "?";
}

WaveTracker::WaveTracker(std::vector<std::vector<std::size_t>> waves, std::size_t hosts,
                         Amount max_fail)
    : waves_(std::move(waves)),
      wave_of_(hosts, 0),
      states_(hosts),
      before_(hosts),
      max_fail_(max_fail) {
  for (std::size_t w = 0; w < waves_.size(); ++w) {
    for (std::size_t h : waves_[w]) wave_of_[h] = w;
  }
}

void WaveTracker::distributed(const std::vector<bool>& held) {
  std::vector<Delivery> d(states_.size(), Delivery::refused);
  for (std::size_t h = 0; h < held.size() && h < d.size(); ++h) {
    if (held[h]) d[h] = Delivery::held;
  }
  distributed(d);
}

void WaveTracker::distributed(const std::vector<Delivery>& delivery) {
  for (std::size_t h = 0; h < states_.size(); ++h) {
    const Delivery d = h < delivery.size() ? delivery[h] : Delivery::refused;
    states_[h] = d == Delivery::held      ? HostState::held
                 : d == Delivery::missing ? HostState::pending
                                          : HostState::not_held;
  }
  check_limits(waves_.size());  // fleet-wide only: no wave has started
}

void WaveTracker::caught_up(std::size_t host, bool held) {
  if (host >= states_.size() || states_[host] != HostState::pending) return;
  states_[host] = held ? HostState::held : HostState::not_held;
  check_limits(waves_.size());
}

std::vector<std::size_t> WaveTracker::pending_in(std::size_t w) const {
  std::vector<std::size_t> out;
  if (w >= waves_.size()) return out;
  for (std::size_t h : waves_[w]) {
    if (states_[h] == HostState::pending) out.push_back(h);
  }
  return out;
}

std::optional<std::size_t> WaveTracker::start_next_wave() {
  if (halted() || next_wave_ >= waves_.size()) return std::nullopt;
  if (next_wave_ > 0) {  // the previous wave must have every result first
    const auto& previous = waves_[next_wave_ - 1];
    if (std::any_of(previous.begin(), previous.end(),
                    [&](std::size_t h) { return states_[h] == HostState::activated; })) {
      return std::nullopt;
    }
  }
  check_limits(next_wave_);  // hosts of this wave that do not hold the bundle count already
  if (halted()) return std::nullopt;
  for (std::size_t h : waves_[next_wave_]) {
    for (const auto& [before, why] : before_[h]) {
      if (states_[h] == HostState::held && states_[before] != HostState::applied) {
        halt_reason_ =
            why + ", which is " + std::string(to_string(states_[before])) + ": it is not touched";
        return std::nullopt;
      }
    }
  }
  const std::size_t w = next_wave_++;
  for (std::size_t h : waves_[w]) {
    if (states_[h] == HostState::held) states_[h] = HostState::activated;
  }
  return w;
}

void WaveTracker::withhold(std::size_t host) {
  if (host < states_.size() && states_[host] == HostState::activated) {
    states_[host] = HostState::held;
  }
}

void WaveTracker::result(std::size_t host, bool applied) {
  if (host >= states_.size() || states_[host] != HostState::activated) return;  // once
  states_[host] = applied ? HostState::applied : HostState::failed;
  check_limits(wave_of_[host]);
}

void WaveTracker::require_applied(std::size_t host, std::size_t before, std::string why) {
  if (host < before_.size() && before < states_.size()) {
    before_[host].emplace_back(before, std::move(why));
  }
}

std::size_t WaveTracker::failures() const {
  return static_cast<std::size_t>(std::count_if(states_.begin(), states_.end(), [](HostState s) {
    return s == HostState::failed || s == HostState::not_held;
  }));
}

std::vector<std::size_t> WaveTracker::activated_in(std::size_t w) const {
  std::vector<std::size_t> out;
  for (std::size_t h : waves_.at(w)) {
    if (states_[h] != HostState::not_held && states_[h] != HostState::pending) out.push_back(h);
  }
  return out;
}

bool WaveTracker::finished() const {
  if (next_wave_ < waves_.size() && !halted()) return false;
  return std::none_of(states_.begin(), states_.end(),
                      [](HostState s) { return s == HostState::activated; });
}

void WaveTracker::check_limits(std::size_t wave) {
  if (halted()) return;
  const std::size_t total = failures();
  const std::size_t fleet_limit = tolerated(max_fail_, states_.size());
  if (total > fleet_limit) {
    halt_reason_ = std::to_string(total) + " of " + std::to_string(states_.size()) +
                   " hosts failed, more than --max-fail " + max_fail_.to_string() + " allows (" +
                   std::to_string(fleet_limit) + ")";
    return;
  }
  if (wave >= waves_.size()) return;
  const auto& hosts = waves_[wave];
  const std::size_t in_wave =
      static_cast<std::size_t>(std::count_if(hosts.begin(), hosts.end(), [&](std::size_t h) {
        return states_[h] == HostState::failed || states_[h] == HostState::not_held;
      }));
  const std::size_t wave_limit = tolerated(max_fail_, hosts.size());
  if (in_wave > wave_limit) {
    halt_reason_ = std::to_string(in_wave) + " of " + std::to_string(hosts.size()) +
                   " hosts of wave " + std::to_string(wave + 1) + " failed, more than --max-fail " +
                   max_fail_.to_string() + " allows (" + std::to_string(wave_limit) + ")";
  }
}

}  // namespace fleetcast::sender
