#include "sender/rollout/rollout.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "protocol/log/log.hpp"
#include "protocol/text.hpp"
#include "sender/rollout/recap.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

constexpr auto kAskStoreEvery = std::chrono::milliseconds(100);
constexpr auto kCollectFor = std::chrono::seconds(3);

}  // namespace

Rollout::Rollout(RolloutPlan plan, RolloutBundle bundle, const p::SecretKey& key, Store* store,
                 std::int64_t id, bool resumed, WallClock wall, RolloutOutput out,
                 Clock::time_point now)
    : plan_(std::move(plan)),
      bundle_(std::move(bundle)),
      key_(key),
      store_(store),
      id_(id),
      resumed_(resumed && store != nullptr),
      wall_(std::move(wall)),
      out_(std::move(out)),
      start_(now),
      tracker_(plan_.waves, plan_.hosts.size(), plan_.max_fail),
      hosts_(plan_.hosts.size()) {
  for (std::size_t w = 0; w < plan_.waves.size(); ++w) {
    for (std::size_t h : plan_.waves[w]) hosts_[h].wave = w;
  }
  for (std::size_t h = 0; h < plan_.before.size(); ++h) {
    for (const auto& b : plan_.before[h]) tracker_.require_applied(h, b.host, b.why);
  }
  bundle_.session.apply = p::ApplyMode::hold;
  bundle_.session.leave_silent_hosts = true;  // a silent host gets its catch-up before its wave
  if (resumed_) waves_started_ = store_->waves_started(id_);
}

Rollout::~Rollout() = default;

std::vector<std::size_t> Rollout::all_hosts() const {
  std::vector<std::size_t> all(plan_.hosts.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

double Rollout::seconds(Clock::time_point now) const {
  return std::chrono::duration<double>(now - start_).count();
}

void Rollout::on_datagram(std::span<const std::uint8_t> bytes, const p::Endpoint& from,
                          Clock::time_point now) {
  std::visit(
      [&](auto& c) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(c)>, std::monostate>) {
          c.on_datagram(bytes, from, now);
        }
      },
      child_);
}

void Rollout::tick(Clock::time_point now, p::Transport& transport) {
  if (phase_ == Phase::start) begin(now);
  bool child_ended = false;
  std::visit(
      [&](auto& c) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(c)>, std::monostate>) {
          c.tick(now, transport);
          child_ended = c.done();
        }
      },
      child_);
  if (auto* a = std::get_if<Activation>(&child_)) report_results(*a, now);
  if (child_ended) {
    child_done(now);
  } else if ((phase_ == Phase::window || phase_ == Phase::soak) && stopped(now)) {
    if (phase_ == Phase::window && !wave_begun_) {
      finish();
    } else {
      end_wave(now);  // a soak ends the same way: no new wave
    }
  } else if (phase_ == Phase::window && now >= wake_) {
    try_activate(now);
  } else if (phase_ == Phase::soak && now >= wake_) {
    next_wave(now);
  }
}

Clock::time_point Rollout::next_wakeup(Clock::time_point now) const {
  switch (phase_) {
    case Phase::start:
      return now;
    case Phase::ended:
      return Clock::time_point::max();
    case Phase::window:
    case Phase::soak:
      return store_ ? std::min(wake_, std::max(now, next_ask_)) : wake_;
    default:
      break;
  }
  return std::visit(
      [&](const auto& c) -> Clock::time_point {
        if constexpr (std::is_same_v<std::decay_t<decltype(c)>, std::monostate>) {
          return now;
        } else {
          return c.next_wakeup(now);
        }
      },
      child_);
}

void Rollout::begin(Clock::time_point now) {
  if (!resumed_) {
    phase_ = Phase::distribute;
    if (!deliver(all_hosts(), false, now)) distributed(now);
    return;
  }
  say(format("resuming rollout %lld (session %s): asking the hosts for their results",
             static_cast<long long>(id_), p::text::hex64(bundle_.session.session.value).c_str()));
  phase_ = Phase::collect;
  auto& poll = child_.emplace<StatusPoll>(
      std::vector<StatusQuery>{{bundle_.session.name, bundle_.session.session, bundle_.targets}},
      bundle_.session.ctrl_group, key_, now, kCollectFor);
  poll.observe([this](std::size_t) { return record_into(store_, bundle_.session.session); });
}

void Rollout::child_done(Clock::time_point now) {
  switch (phase_) {
    case Phase::collect: {
      child_.emplace<std::monostate>();
      const auto fins = store_->latest_fins(bundle_.session.session);
      for (std::size_t i = 0; i < hosts_.size(); ++i) {
        const auto it = fins.find(plan_.hosts[i]);
        if (it == fins.end()) continue;
        hosts_[i].answer = HostOutcome::Answer::fin;
        hosts_[i].fin = it->second.status;
        hosts_[i].message = it->second.message;
      }
      phase_ = Phase::distribute;
      if (!deliver(all_hosts(), true, now)) distributed(now);
      return;
    }
    case Phase::distribute:
      delivered(std::get<SenderSession>(child_), now);
      child_.emplace<std::monostate>();
      distributed(now);
      return;
    case Phase::catch_up:
      delivered(std::get<SenderSession>(child_), now);
      child_.emplace<std::monostate>();
      after_catch_up(now);
      return;
    case Phase::activate:
      activated(std::get<Activation>(child_), now);
      return;
    default:
      return;
  }
}

// The hosts among `which` without a result so far receive, check and hold the bundle: the one
// distribution, or a catch-up of the same session. False when every one of them has answered.
bool Rollout::deliver(const std::vector<std::size_t>& which, bool catch_up, Clock::time_point now) {
  std::vector<const Host*> missing;
  child_hosts_.clear();
  for (std::size_t i : which) {
    if (hosts_[i].answer == HostOutcome::Answer::fin) continue;
    missing.push_back(bundle_.targets[i]);
    child_hosts_.push_back(i);
  }
  if (missing.empty()) return false;
  SessionConfig c = bundle_.session;
  if (store_) c.fleet_key_holders = store_->fleet_key_holders(key_.key_id());
  // The time the announcements carry: now, not when the rollout began (a catch-up hours later
  // must still be inside the hosts' clock window).
  c.wall_time = static_cast<std::uint64_t>(wall_().time_since_epoch().count());
  say(format("%s %s (session %s) to %zu host(s): they check it and hold it",
             catch_up ? "catch-up: delivering" : "distributing", c.name.c_str(),
             p::text::hex64(c.session.value).c_str(), missing.size()));
  log::emit(
      event(log::Level::info, "FC1201", catch_up ? "rollout-catch-up" : "rollout-distributing")
          .with("bundle", bundle_.bundle_name)
          .with("version", bundle_.version)
          .with("session", p::text::hex64(c.session.value))
          .with("hosts", missing.size()));
  auto& s = child_.emplace<SenderSession>(c, bundle_.file, missing, key_, now);
  s.observe(record_into(store_, c.session));
  return true;
}

void Rollout::delivered(const SenderSession& s, Clock::time_point now) {
  if (store_) {
    store_->end_session(bundle_.session.session, s.success());
    store_->record_fleet_keys(key_.key_id(), s.receipts().fleet_keys_said());
  }
  ended_.add(s);
  if (out_.session_ended) out_.session_ended(s);
  for (std::size_t k = 0; k < child_hosts_.size(); ++k) {
    const HostReport& r = s.hosts()[k];
    HostOutcome& h = hosts_[child_hosts_[k]];
    h.answer = r.fin      ? HostOutcome::Answer::fin
               : r.denied ? HostOutcome::Answer::denied
                          : HostOutcome::Answer::silent;
    if (r.fin) h.fin = r.fin_status;
    h.message = r.fin ? r.fin_message : r.deny_reason;
    if (r.fin) h.result_at = seconds(now);
  }
}

DeliveryTotals Rollout::totals() const {
  DeliveryTotals t = ended_;
  if (const auto* s = std::get_if<SenderSession>(&child_)) t.add(*s);
  return t;
}

void Rollout::distributed(Clock::time_point now) {
  tracker_.distributed(delivery());
  replay_started_waves();
  next_wave(now);
}

// After the distribution: held, refused (rejected at check, or denied), or missing (silent).
std::vector<WaveTracker::Delivery> Rollout::delivery() const {
  std::vector<WaveTracker::Delivery> out(hosts_.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const HostOutcome& h = hosts_[i];
    out[i] = h.holds() ? WaveTracker::Delivery::held
             : h.answer == HostOutcome::Answer::fin || h.answer == HostOutcome::Answer::denied
                 ? WaveTracker::Delivery::refused
                 : WaveTracker::Delivery::missing;
  }
  return out;
}

// Resume: the waves the killed manager started, with the results that are in; the first wave
// still missing results is activated again (hosts apply at most once).
void Rollout::replay_started_waves() {
  for (std::size_t number : waves_started_) {
    if (number != tracker_.waves_started() + 1) break;
    bool complete = true;
    for (std::size_t h : tracker_.activated_in(number - 1)) {
      const HostOutcome& o = hosts_[h];
      complete = complete && o.answer == HostOutcome::Answer::fin && o.fin != p::FinStatus::held;
    }
    if (!complete) break;  // activated again for the hosts without a result
    tracker_.start_next_wave();
    for (std::size_t h : tracker_.activated_in(number - 1)) {
      tracker_.result(h, hosts_[h].fin == p::FinStatus::applied);
    }
    say(format("wave %zu: done before the restart", number));
    if (tracker_.halted()) break;
  }
}

void Rollout::next_wave(Clock::time_point now) {
  if (tracker_.halted() || tracker_.waves_started() >= plan_.waves.size() || stopped(now)) {
    finish();
    return;
  }
  wave_ = tracker_.waves_started();
  phase_ = Phase::catch_up;
  if (!deliver(tracker_.pending_in(wave_), true, now)) after_catch_up(now);
}

// Before a wave: its hosts silent so far were given a catch-up; those it did not reach count as
// failed from now on.
void Rollout::after_catch_up(Clock::time_point now) {
  for (std::size_t h : tracker_.pending_in(wave_)) tracker_.caught_up(h, hosts_[h].holds());
  if (tracker_.halted()) {
    finish();
    return;
  }
  phase_ = Phase::window;
  wave_begun_ = false;
  wave_recorded_ = false;
  wake_ = now;
  try_activate(now);
}

}  // namespace fleetcast::sender

namespace fleetcast::sender {

// Window phase. Before the wave begins: until one of its holding hosts is inside its windows
// (at once when none applies). Then one ACTIVATE per group of hosts whose windows are open, and
// a wait for the next opening while some wait for a later window, until each had its turn.
void Rollout::try_activate(Clock::time_point now) {
  const SysSeconds wall = wall_();
  if (!wave_begun_) {
    std::vector<std::size_t> holding;
    for (std::size_t h : plan_.waves[wave_]) {
      if (tracker_.state(h) == HostState::held) holding.push_back(h);
    }
    if (wait_for_window(holding, wall, now)) return;
    const auto w = tracker_.start_next_wave();
    if (!w) {
      finish();
      return;
    }
    wave_begun_ = true;
    waiting_.clear();
    for (std::size_t h : tracker_.activated_in(wave_)) {
      if (tracker_.state(h) != HostState::activated) continue;
      const HostOutcome& o = hosts_[h];
      if (o.answer == HostOutcome::Answer::fin && o.fin != p::FinStatus::held) {
        tracker_.result(h, o.fin == p::FinStatus::applied);  // reported meanwhile
        continue;
      }
      waiting_.push_back(h);
    }
  }
  if (waiting_.empty() || tracker_.halted()) {
    end_wave(now);
    return;
  }
  std::vector<std::size_t> open, later;
  for (std::size_t h : waiting_) (plan_.windows[h].contains(wall) ? open : later).push_back(h);
  if (open.empty()) {
    if (!wait_for_window(later, wall, now)) end_wave(now);  // none of them ever opens
    return;
  }
  waiting_ = std::move(later);
  activate(open, now);
}

// True (and the wakeup set) while `hosts` wait for the first of their windows to open; false
// when one is open now, when there are none, or when none of their windows ever opens.
bool Rollout::wait_for_window(const std::vector<std::size_t>& hosts, SysSeconds wall,
                              Clock::time_point now) {
  std::optional<SysSeconds> first;
  std::string which;
  for (std::size_t h : hosts) {
    const auto open = plan_.windows[h].next_open(wall);
    if (!open || (first && *open >= *first)) continue;
    first = open;
    which = plan_.windows[h].text();
  }
  if (!first || *first <= wall) return false;
  const Clock::time_point wake = at_wall(*first, now);
  if (wake != wake_ || phase_ != Phase::window) {
    say(format("wave %zu: waiting for the window %s: opens at %s", wave_ + 1, which.c_str(),
               iso_utc(*first).c_str()));
  }
  phase_ = Phase::window;
  wake_ = wake;
  return true;
}

void Rollout::activate(const std::vector<std::size_t>& open, Clock::time_point now) {
  const SysSeconds wall = wall_();
  if (!wave_recorded_ && store_) {
    std::vector<std::string> names;
    for (std::size_t h : plan_.waves[wave_]) names.push_back(plan_.hosts[h]);
    store_->wave_started(id_, wave_ + 1, names);
  }
  wave_recorded_ = true;
  SysSeconds close = SysSeconds::max();
  for (std::size_t h : open) close = std::min(close, plan_.windows[h].closes_at(wall));
  if (close != SysSeconds::max()) {
    say(format("wave %zu: inside the window until %s", wave_ + 1, iso_utc(close).c_str()));
  }
  std::string names;
  std::vector<const Host*> targets;
  for (std::size_t h : open) {
    targets.push_back(bundle_.targets[h]);
    names += (names.empty() ? "" : " ") + plan_.hosts[h];
    hosts_[h].activated_at = seconds(now);
  }
  say(format("wave %zu: activating %zu host(s): %s", wave_ + 1, open.size(), names.c_str()));
  log::emit(event(log::Level::info, "FC1202", "wave-activating")
                .with("bundle", bundle_.bundle_name)
                .with("wave", wave_ + 1)
                .with("hosts", open.size()));
  ActivationConfig ac;
  ac.name = bundle_.session.name;
  ac.session = bundle_.session.session;
  ac.version = bundle_.session.version;
  ac.digest = bundle_.digest;
  ac.wave = static_cast<std::uint32_t>(wave_ + 1);
  ac.ctrl_group = bundle_.session.ctrl_group;
  ac.wall_time = static_cast<std::uint64_t>(wall.time_since_epoch().count());
  ac.timeout = plan_.activate_timeout;
  ac.stop_sending = close == SysSeconds::max() ? Clock::time_point::max() : at_wall(close, now);
  phase_ = Phase::activate;
  child_hosts_ = open;
  reported_.assign(open.size(), false);
  auto& a = child_.emplace<Activation>(ac, targets, key_, now);
  a.observe(record_into(store_, bundle_.session.session));
}

// The results of the running activation, as they arrive.
void Rollout::report_results(const Activation& a, Clock::time_point now) {
  for (std::size_t i = 0; i < child_hosts_.size(); ++i) {
    const auto status = a.result(i);
    if (reported_[i] || !status) continue;
    reported_[i] = true;
    result(child_hosts_[i], *status, a.receipts().hosts()[i].fin_message, now);
  }
}

void Rollout::activated(const Activation& a, Clock::time_point now) {
  report_results(a, now);
  for (std::size_t i = 0; i < child_hosts_.size(); ++i) {
    if (reported_[i]) continue;  // silent until the timeout: unreachable, counted as failed
    HostOutcome& h = hosts_[child_hosts_[i]];
    h.answer = HostOutcome::Answer::silent;
    h.message = "no result within --activate-timeout";
    say(format("  %-20s %-12s %s", plan_.hosts[child_hosts_[i]].c_str(), "silent",
               h.message.c_str()));
    log::emit(event(log::Level::warning, "FC1203", "host-result")
                  .with("host", plan_.hosts[child_hosts_[i]])
                  .with("status", "silent")
                  .with("reason", h.message));
    tracker_.result(child_hosts_[i], false);
  }
  child_.emplace<std::monostate>();
  phase_ = Phase::window;
  if (stopped(now)) {
    end_wave(now);
  } else {
    try_activate(now);
  }
}

// Halted or stopped before a host's turn: it keeps the bundle held, untouched.
void Rollout::end_wave(Clock::time_point now) {
  for (std::size_t h : waiting_) {
    tracker_.withhold(h);
    say(format("  %-20s %-12s %s", plan_.hosts[h].c_str(), "held",
               "not activated: the rollout halted or stopped before its window opened"));
  }
  waiting_.clear();
  if (store_ && wave_recorded_) store_->wave_ended(id_, wave_ + 1);
  wave_begun_ = false;
  wave_recorded_ = false;
  if (tracker_.halted() || stopped(now)) {
    finish();
  } else if (plan_.soak.count() > 0 && wave_ + 1 < plan_.waves.size()) {
    say(format("soaking %llds", static_cast<long long>(plan_.soak.count())));
    phase_ = Phase::soak;
    wake_ = now + plan_.soak;
  } else {
    next_wave(now);
  }
}

void Rollout::result(std::size_t h, p::FinStatus status, const std::string& message,
                     Clock::time_point now) {
  HostOutcome& o = hosts_[h];
  o.answer = HostOutcome::Answer::fin;
  o.fin = status;
  o.message = message;
  o.result_at = seconds(now);
  say(format("  %-20s %-12s %s", plan_.hosts[h].c_str(), std::string(p::to_string(status)).c_str(),
             message.c_str()));
  log::emit(event(status == p::FinStatus::applied ? log::Level::info : log::Level::warning,
                  "FC1203", "host-result")
                .with("host", plan_.hosts[h])
                .with("status", p::to_string(status))
                .with("reason", message));
  tracker_.result(h, status == p::FinStatus::applied);
}

// The operator asked (rollout pause / abort), or the process is asked to stop: no new wave.
bool Rollout::stopped(Clock::time_point now) {
  if (request_ != Request::none) return true;
  if (interrupted_) {
    request_ = Request::interrupt;
  } else if (store_ && now >= next_ask_) {
    request_ = store_->requested(id_);
    next_ask_ = now + kAskStoreEvery;
  }
  return request_ != Request::none;
}

Clock::time_point Rollout::at_wall(SysSeconds t, Clock::time_point now) const {
  const auto ahead = t - wall_();
  return ahead.count() <= 0 ? now : now + ahead;
}

void Rollout::say(const std::string& line) const {
  if (out_.say) out_.say(line);
}

log::Event Rollout::event(log::Level level, std::string_view id, std::string_view name) const {
  return log::Event(level, id, name).with("rollout", static_cast<std::uint64_t>(id_));
}

}  // namespace fleetcast::sender

namespace fleetcast::sender {

bool Rollout::succeeded() const {
  if (tracker_.halted()) return false;
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    if (tracker_.state(h) != HostState::applied) return false;
  }
  return true;
}

// The recap, the rollout's end in the store (an interrupted one stays running), FC1204.
void Rollout::finish() {
  phase_ = Phase::ended;
  child_.emplace<std::monostate>();
  std::vector<RecapRow> rows;
  std::size_t applied = 0;
  for (std::size_t h = 0; h < hosts_.size(); ++h) {
    const HostState s = tracker_.state(h);
    applied += s == HostState::applied;
    rows.push_back({plan_.hosts[h], std::string(to_string(s)), hosts_[h].status(),
                    hosts_[h].message, s == HostState::failed || s == HostState::not_held});
  }
  say("");
  for (const std::string& line : recap_lines(bundle_.bundle_name, bundle_.version, rows)) {
    say(line);
  }
  const std::size_t waves = tracker_.waves_started();
  const bool halted = tracker_.halted();
  if (halted) {
    say(format("HALTED after wave %zu: %s; hosts not activated keep the bundle held", waves,
               tracker_.halt_reason().c_str()));
  } else if (request_ == Request::pause) {
    say(format("PAUSED after wave %zu by the operator; 'rollout resume' continues", waves));
  } else if (request_ == Request::interrupt) {
    say(
        format("INTERRUPTED after wave %zu: the rollout stays running; serve or 'rollout "
               "resume' continues it",
               waves));
  } else if (request_ == Request::abort) {
    say(format("ABORTED after wave %zu by the operator; hosts not activated keep the bundle held",
               waves));
  }
  const RolloutState state = halted                       ? RolloutState::halted
                             : request_ == Request::pause ? RolloutState::paused
                             : request_ == Request::abort ? RolloutState::aborted
                             : request_ == Request::none  ? RolloutState::done
                                                          : RolloutState::running;
  const std::string reason = halted                       ? tracker_.halt_reason()
                             : request_ == Request::pause ? "paused by the operator"
                             : request_ == Request::abort ? "aborted by the operator"
                                                          : "";
  if (store_ && state != RolloutState::running) store_->end_rollout(id_, state, reason);
  const bool ok = succeeded();
  const std::string_view ended = request_ == Request::interrupt && !halted ? "interrupted"
                                 : state == RolloutState::done && !ok      ? "incomplete"
                                                                           : to_string(state);
  log::emit(event(ok ? log::Level::notice : log::Level::warning, "FC1204", "rollout-ended")
                .with("bundle", bundle_.bundle_name)
                .with("version", bundle_.version)
                .with("state", ended)
                .with("waves", waves)
                .with("applied", applied)
                .with("hosts", hosts_.size())
                .with("reason", halted ? tracker_.halt_reason() : ""));
  say(format("%s: %zu of %zu hosts applied", ok ? "rolled out" : "ROLLOUT INCOMPLETE", applied,
             hosts_.size()));
}

}  // namespace fleetcast::sender
