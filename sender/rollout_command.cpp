#include "sender/rollout_command.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <thread>

#include "protocol/io/file.hpp"
#include "protocol/log/log.hpp"
#include "protocol/text.hpp"
#include "sender/push_setup.hpp"
#include "sender/report.hpp"
#include "sender/rollout/activation.hpp"
#include "sender/rollout/waves.hpp"
#include "sender/rollout/window.hpp"
#include "sender/status_poll.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

std::string iso(SysSeconds t) {
  return iso_utc(t.time_since_epoch().count());
}

SysSeconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Sleeps until `until` in steps of at most 100 ms; false as soon as `stop()` says so.
template <class Stop>
bool wait_until(std::chrono::system_clock::time_point until, const Stop& stop) {
  while (std::chrono::system_clock::now() < until) {
    if (stop()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::system_clock::duration>(
        std::chrono::milliseconds(100), until - std::chrono::system_clock::now()));
  }
  return !stop();
}

std::string names(const std::vector<const Host*>& hosts, const std::vector<std::size_t>& which) {
  std::string out;
  for (std::size_t i : which) out += (out.empty() ? "" : " ") + hosts[i]->name;
  return out;
}

// The maintenance windows each target must be inside: the rollout's, and the window of each of
// its groups (from --window @GROUP=, else from the inventory).
std::vector<WindowSet> host_windows(const Prepared& prep, const RolloutOptions& r) {
  std::vector<WindowSet> out(prep.targets.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (const std::string& w : r.windows) out[i].add(Window::parse(w, nullptr).value());
    for (const std::string& g : prep.targets[i]->groups) {
      const std::string* text = nullptr;
      if (const auto it = r.group_windows.find(g); it != r.group_windows.end()) {
        text = &it->second;
      } else if (const auto jt = prep.inventory->windows().find(g);
                 jt != prep.inventory->windows().end()) {
        text = &jt->second;
      }
      if (text) out[i].add(Window::parse(*text, nullptr).value());
    }
  }
  return out;
}

// Prints the hosts of each distinct set of windows and when it opens; throws (naming the hosts)
// when a set never opens, so neither plan nor run accepts a rollout some hosts could never get.
void print_windows(const Prepared& prep, const std::vector<WindowSet>& windows) {
  std::map<std::string, std::vector<std::size_t>> by_text;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (!windows[i].empty()) by_text[windows[i].text()].push_back(i);
  }
  if (by_text.empty()) std::printf("  maintenance windows: none, activation at any time\n");
  const SysSeconds now = wall_now();
  for (const auto& [text, hosts] : by_text) {
    const auto open = windows[hosts.front()].next_open(now);
    if (!open) {
      throw std::runtime_error("the windows " + text + " of " + names(prep.targets, hosts) +
                               " are never open at once within 8 days");
    }
    std::printf("  window %s for %s: %s\n", text.c_str(), names(prep.targets, hosts).c_str(),
                *open == now ? "open now" : ("next opens at " + iso(*open)).c_str());
  }
}

// The DHCP lint of a dhcp-server bundle, then the waves with the inventory's redundancy groups
// applied (rollout/redundancy.hpp); refuses (naming the servers, or the group and hosts) what
// breaks the rules, unless --force.
RedundantPlan rollout_waves(const Prepared& prep, const RolloutOptions& r) {
  refuse_dhcp_conflicts(prep, r.force);  // plan, run and start all come here first
  std::vector<std::string> names;
  for (const Host* h : prep.targets) names.push_back(h->name);
  const auto& groups = prep.inventory->redundancy();
  std::vector<Amount> steps = r.waves;
  if (r.in_turns) {
    steps = turn_steps(names, groups);
    if (steps.empty()) steps = {Amount{100, true}};
  }
  RedundantPlan plan = plan_redundant_waves(steps, names, groups);
  if (!plan.violations.empty() && !r.force) {
    std::string text;
    for (const auto& v : plan.violations) text += "\n  " + v;
    throw std::runtime_error("these waves break redundancy rules (--force keeps them):" + text);
  }
  return plan;
}

void print_plan(const Prepared& prep, const SendOptions& o, const RolloutOptions& r,
                const RedundantPlan& plan) {
  const auto& waves = plan.waves;
  std::printf("rollout of %s: %s version %llu (%s) to %zu hosts in %zu waves\n", o.file.c_str(),
              prep.bundle_name.c_str(), static_cast<unsigned long long>(prep.version),
              prep.kind.c_str(), prep.targets.size(), waves.size());
  std::printf(
      "  --max-fail %s: %zu failure(s) of %zu tolerated fleet-wide, one more halts; "
      "soak %llds after each wave\n",
      r.max_fail.to_string().c_str(), tolerated(r.max_fail, prep.targets.size()),
      prep.targets.size(), static_cast<long long>(r.soak.count()));
  for (std::size_t w = 0; w < waves.size(); ++w) {
    std::printf("  wave %zu%s (%zu, tolerates %zu): %s\n", w + 1, w == 0 ? " canary" : "",
                waves[w].size(), tolerated(r.max_fail, waves[w].size()),
                names(prep.targets, waves[w]).c_str());
  }
  for (const RedundancyGroup& g : prep.inventory->redundancy()) {
    std::printf("  redundancy %s\n", g.describe().c_str());
  }
  for (const auto& n : plan.notes) std::printf("  moved: %s\n", n.c_str());
  for (const auto& v : plan.violations) std::printf("  FORCED (--force): %s\n", v.c_str());
  print_windows(prep, host_windows(prep, r));
  for (const Host* h : prep.not_targeted) {
    std::printf("  not in the rollout: %s (the bundle's targets or its encryption leave it out)\n",
                h->name.c_str());
  }
}

struct HostRecord {
  std::size_t wave = 0;
  std::optional<double> activated_at;
  std::optional<double> result_at;
  std::string status = "pending";
  std::string message;
};

void write_rollout_report(const std::filesystem::path& path, const Prepared& prep,
                          const p::Digest& digest, std::uint64_t wire_bytes, const WaveTracker& t,
                          const std::vector<HostRecord>& hosts, double seconds) {
  nlohmann::json jh = nlohmann::json::array();
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    nlohmann::json j = {{"host", prep.targets[i]->name},
                        {"wave", hosts[i].wave + 1},
                        {"state", to_string(t.state(i))},
                        {"status", hosts[i].status},
                        {"message", hosts[i].message}};
    if (hosts[i].activated_at) j["activated_at_s"] = *hosts[i].activated_at;
    if (hosts[i].result_at) j["result_at_s"] = *hosts[i].result_at;
    jh.push_back(j);
  }
  nlohmann::json report = {{"bundle", prep.bundle_name},
                           {"version", prep.version},
                           {"digest", p::text::hex(digest)},
                           {"waves", t.waves().size()},
                           {"waves_started", t.waves_started()},
                           {"halted", t.halted()},
                           {"halt_reason", t.halt_reason()},
                           {"distribution_wire_bytes", wire_bytes},
                           {"seconds", seconds},
                           {"hosts", jh}};
  // 0600: it holds every host's FIN text (script output, whatever a host reported).
  p::io::write_file_atomic(path, p::as_bytes(report.dump(2) + "\n"), 0600);
}

// One rollout from its distribution to the recap; `resume` continues one a killed manager left
// running (its session, results and started waves come from the store).
class Runner {
 public:
  // `scheduled`: the store's id of a rollout `serve` starts now (0: a new one). `interrupted`
  // (if set) stops it between waves and leaves it running for a later resume.
  Runner(const SendOptions& o, const RolloutOptions& r, std::optional<RolloutRecord> resume,
         std::int64_t scheduled = 0, std::function<bool()> interrupted = {})
      : o_(o),
        r_(r),
        resume_(std::move(resume)),
        prep_(prepare(o)),
        plan_(rollout_waves(prep_, r)),
        waves_(plan_.waves),
        c_(session_config(o, prep_, p::ApplyMode::hold)),
        digest_(prep_.file->digest()),
        io_(o),
        start_(Clock::now()),
        hosts_(prep_.targets.size()),
        tracker_(waves_, prep_.targets.size(), r.max_fail),
        scheduled_(scheduled),
        interrupted_(std::move(interrupted)) {
    if (resume_) {
      c_.session = resume_->session;
      c_.file_id = resume_->file_id;
    }
    for (std::size_t w = 0; w < waves_.size(); ++w) {
      for (std::size_t h : waves_[w]) hosts_[h].wave = w;
    }
    windows_ = host_windows(prep_, r);
    for (std::size_t h = 0; h < plan_.before.size(); ++h) {
      for (const auto& b : plan_.before[h]) tracker_.require_applied(h, b.host, b.why);
    }
    c_.leave_silent_hosts = true;  // a silent host gets its catch-up before its wave
  }

  int run(const std::vector<std::string>& argv) {
    print_plan(prep_, o_, r_, plan_);
    store_ = open_store(o_, c_, prep_, digest_);
    if (store_) {
      if (resume_) {
        rollout_id_ = resume_->id;
      } else if (scheduled_ != 0) {
        rollout_id_ = scheduled_;
        store_->start_scheduled(rollout_id_, c_.session, r_.waves_text, r_.max_fail.to_string());
      } else {
        rollout_id_ =
            store_->begin_rollout(c_.session, r_.waves_text, r_.max_fail.to_string(), argv);
      }
      // One manager process per rollout: the lock goes with the process, however it ends.
      if (!lock_.try_lock(o_.state / ("rollout-" + std::to_string(rollout_id_) + ".lock"))) {
        throw std::runtime_error("rollout " + std::to_string(rollout_id_) +
                                 " is being run by another manager process");
      }
    }
    if (resume_) {
      collect_results();
    }
    deliver(all_hosts(), resume_.has_value());
    tracker_.distributed(delivery());
    replay_started_waves();
    auto stop = [this] { return stopped(); };
    while (!tracker_.halted() && tracker_.waves_started() < waves_.size() && !stop()) {
      catch_up(tracker_.waves_started());
      if (tracker_.halted()) break;
      if (!wait_for_window(tracker_.waves_started())) break;
      const auto w = tracker_.start_next_wave();
      if (!w) break;
      activate(*w);
      if (tracker_.halted()) break;
      if (r_.soak.count() > 0 && *w + 1 < waves_.size()) {
        std::printf("soaking %llds\n", static_cast<long long>(r_.soak.count()));
        std::fflush(stdout);
        if (!wait_until(std::chrono::system_clock::now() + r_.soak, stop)) break;
      }
    }
    return recap();
  }

 private:
  double since(Clock::time_point t) const { return seconds_between(start_, t); }

  // The operator asked (rollout pause / abort), or the process is asked to stop: start no new
  // wave.
  bool stopped() {
    if (!request_.empty()) return true;
    if (interrupted_ && interrupted_()) request_ = "interrupt";
    if (request_.empty() && store_) request_ = store_->requested(rollout_id_);
    return !request_.empty();
  }

  // Resume: results the hosts sent while no manager listened (they repeat them on STATUS).
  void collect_results() {
    std::printf("resuming rollout %lld (session %s): asking the hosts for their results\n",
                static_cast<long long>(rollout_id_), p::text::hex64(c_.session.value).c_str());
    StatusPoll poll({{c_.name, c_.session, prep_.targets}}, c_.ctrl_group, prep_.key, Clock::now(),
                    std::chrono::seconds(3));
    poll.observe([this](std::size_t) { return record_into(store_.get(), c_.session); });
    drive(poll, io_);
    const auto fins = store_->latest_fins(c_.session);
    for (std::size_t i = 0; i < prep_.targets.size(); ++i) {
      const auto it = fins.find(prep_.targets[i]->name);
      if (it == fins.end()) continue;
      known_[i] = it->second.status;
      hosts_[i].status = std::string(p::to_string(it->second.status));
      hosts_[i].message = it->second.message;
    }
  }

  // The hosts among `which` that have not reported yet receive, check and hold the bundle: the
  // one distribution, or a catch-up of the same session (after a restart, or before the wave
  // of hosts that were silent). Hosts that stay silent are left to the caller.
  void deliver(const std::vector<std::size_t>& which, bool catch_up) {
    std::vector<const Host*> missing;
    std::vector<std::size_t> index;
    for (std::size_t i : which) {
      if (known_.count(i)) continue;
      missing.push_back(prep_.targets[i]);
      index.push_back(i);
    }
    if (missing.empty()) return;
    std::printf("%s %s (session %s) to %zu host(s): they check it and hold it\n",
                catch_up ? "catch-up: delivering" : "distributing", o_.name.c_str(),
                p::text::hex64(c_.session.value).c_str(), missing.size());
    log::emit(
        event(log::Level::info, "FC1201", catch_up ? "rollout-catch-up" : "rollout-distributing")
            .with("bundle", prep_.bundle_name)
            .with("version", prep_.version)
            .with("session", p::text::hex64(c_.session.value))
            .with("hosts", missing.size()));
    std::fflush(stdout);  // progress in a log file as it happens
    SenderSession dist(c_, prep_.file, missing, prep_.key, Clock::now());
    dist.observe(record_into(store_.get(), c_.session));
    drive(dist, io_);
    if (store_) store_->end_session(c_.session, dist.success());
    wire_bytes_ += dist.stats().wire_bytes;
    print_fin_table(dist);
    print_summary(dist, start_, Clock::now());
    for (std::size_t k = 0; k < index.size(); ++k) {
      const HostReport& h = dist.hosts()[k];
      HostRecord& rec = hosts_[index[k]];
      if (h.fin) known_[index[k]] = h.fin_status;
      rec.status = h.fin ? std::string(p::to_string(h.fin_status)) : h.denied ? "denied" : "silent";
      rec.message = h.fin ? h.fin_message : h.deny_reason;
    }
  }

  std::vector<std::size_t> all_hosts() const {
    std::vector<std::size_t> out(prep_.targets.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = i;
    return out;
  }

  // Before wave `w`: hosts of it that were silent so far get a catch-up; those it does not
  // reach count as failed from now on.
  void catch_up(std::size_t w) {
    const auto pending = tracker_.pending_in(w);
    if (pending.empty()) return;
    deliver(pending, true);
    for (std::size_t h : pending) tracker_.caught_up(h, holds(h));
  }

  // A host holds the bundle when it reported `held`, or a result of an activation already.
  bool holds(std::size_t h) const {
    const auto it = known_.find(h);
    return it != known_.end() && it->second != p::FinStatus::rejected &&
           it->second != p::FinStatus::received && it->second != p::FinStatus::checked;
  }

  // After the distribution: held, refused (rejected at check, or denied), or missing (silent).
  std::vector<WaveTracker::Delivery> delivery() const {
    std::vector<WaveTracker::Delivery> out(prep_.targets.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = holds(i)                                          ? WaveTracker::Delivery::held
               : known_.count(i) || hosts_[i].status == "denied" ? WaveTracker::Delivery::refused
                                                                 : WaveTracker::Delivery::missing;
    }
    return out;
  }

  // Resume: the waves the killed manager started, with the results that are in; the first
  // wave still missing results is activated again (hosts apply at most once).
  void replay_started_waves() {
    if (!resume_) return;
    for (std::size_t number : resume_->waves_started) {
      if (number != tracker_.waves_started() + 1) break;
      bool complete = true;
      for (std::size_t h : tracker_.activated_in(number - 1)) {
        if (known_.count(h) && known_.at(h) != p::FinStatus::held) continue;
        complete = false;
      }
      if (!complete) break;  // activate() runs it again for the hosts without a result
      tracker_.start_next_wave();
      for (std::size_t h : tracker_.activated_in(number - 1)) {
        tracker_.result(h, known_.at(h) == p::FinStatus::applied);
      }
      std::printf("wave %zu: done before the restart\n", number);
      if (tracker_.halted()) break;
    }
  }

  // Until one host of wave `w` that holds the bundle is inside its windows (at once when no
  // window applies); false when the operator or a signal stopped the rollout meanwhile.
  bool wait_for_window(std::size_t w) {
    std::vector<std::size_t> hosts;
    for (std::size_t h : waves_[w]) {
      if (tracker_.state(h) == HostState::held) hosts.push_back(h);
    }
    return hosts.empty() || wait_for_any(w, hosts);
  }

  bool wait_for_any(std::size_t w, const std::vector<std::size_t>& hosts) {
    for (int step = 0; step < 10000; ++step) {  // each step waits for an opening
      const SysSeconds now = wall_now();
      std::optional<SysSeconds> first;
      std::string which;
      for (std::size_t h : hosts) {
        const auto open = windows_[h].next_open(now);
        if (!open || (first && *open >= *first)) continue;
        first = open;
        which = windows_[h].text();
      }
      if (!first || *first == now) return true;  // (print_plan refused sets that never open)
      std::printf("wave %zu: waiting for the window %s: opens at %s\n", w + 1, which.c_str(),
                  iso(*first).c_str());
      std::fflush(stdout);
      if (!wait_until(std::chrono::system_clock::time_point(*first), [this] { return stopped(); }))
        return false;
    }
    return false;
  }

  // Wave `w`: ACTIVATE to its hosts whose windows are open, then (if some wait for a later
  // window) the next group when its window opens, until every host of the wave had its turn.
  // Halted or stopped before a host's turn: it keeps the bundle held, untouched.
  void activate(std::size_t w) {
    std::vector<std::size_t> pending;
    for (std::size_t h : tracker_.activated_in(w)) {
      if (tracker_.state(h) != HostState::activated) continue;
      if (known_.count(h) && known_.at(h) != p::FinStatus::held) {
        tracker_.result(h, known_.at(h) == p::FinStatus::applied);  // reported meanwhile
        continue;
      }
      pending.push_back(h);
    }
    bool recorded = false;
    while (!pending.empty() && !tracker_.halted()) {
      const SysSeconds now = wall_now();
      std::vector<std::size_t> open, waiting;
      for (std::size_t h : pending) (windows_[h].contains(now) ? open : waiting).push_back(h);
      if (open.empty()) {
        if (!wait_for_any(w, waiting)) break;
        continue;
      }
      if (!recorded && store_) {
        std::vector<std::string> wave_names;
        for (std::size_t h : waves_[w]) wave_names.push_back(prep_.targets[h]->name);
        store_->wave_started(rollout_id_, w + 1, wave_names);
      }
      recorded = true;
      SysSeconds close = SysSeconds::max();
      for (std::size_t h : open) close = std::min(close, windows_[h].closes_at(now));
      if (close != SysSeconds::max()) {
        std::printf("wave %zu: inside the window until %s\n", w + 1, iso(close).c_str());
      }
      activate_hosts(
          w, open,
          close == SysSeconds::max() ? Clock::time_point::max() : Clock::now() + (close - now));
      pending = std::move(waiting);
      if (stopped()) break;
    }
    for (std::size_t h : pending) {
      tracker_.withhold(h);
      std::printf("  %-20s %-12s %s\n", prep_.targets[h]->name.c_str(), "held",
                  "not activated: the rollout halted or stopped before its window opened");
    }
    if (store_ && recorded) store_->wave_ended(rollout_id_, w + 1);
  }

  void activate_hosts(std::size_t w, const std::vector<std::size_t>& index,
                      Clock::time_point closes) {
    std::vector<const Host*> wave_hosts;
    for (std::size_t h : index) {
      wave_hosts.push_back(prep_.targets[h]);
      hosts_[h].activated_at = since(Clock::now());
    }
    std::printf("wave %zu: activating %zu host(s): %s\n", w + 1, wave_hosts.size(),
                names(prep_.targets, index).c_str());
    log::emit(event(log::Level::info, "FC1202", "wave-activating")
                  .with("bundle", prep_.bundle_name)
                  .with("wave", w + 1)
                  .with("hosts", wave_hosts.size()));
    std::fflush(stdout);
    ActivationConfig ac;
    ac.name = c_.name;
    ac.session = c_.session;
    ac.version = c_.version;
    ac.digest = digest_;
    ac.wave = static_cast<std::uint32_t>(w + 1);
    ac.ctrl_group = c_.ctrl_group;
    ac.wall_time = static_cast<std::uint64_t>(std::time(nullptr));
    ac.timeout = r_.activate_timeout;
    ac.stop_sending = closes;
    Activation act(ac, wave_hosts, prep_.key, Clock::now());
    act.observe(record_into(store_.get(), c_.session));
    std::vector<bool> reported(index.size(), false);
    drive(act, io_, [&](Clock::time_point now) {
      for (std::size_t i = 0; i < index.size(); ++i) {
        const auto result = act.result(i);
        if (reported[i] || !result) continue;
        reported[i] = true;
        report(index[i], *result, act.receipts().hosts()[i].fin_message, since(now));
      }
    });
    for (std::size_t i = 0; i < index.size(); ++i) {
      if (reported[i]) continue;  // silent until the timeout: unreachable, counted as failed
      hosts_[index[i]].status = "silent";
      hosts_[index[i]].message = "no result within --activate-timeout";
      std::printf("  %-20s %-12s %s\n", wave_hosts[i]->name.c_str(), "silent",
                  hosts_[index[i]].message.c_str());
      log::emit(event(log::Level::warning, "FC1203", "host-result")
                    .with("host", wave_hosts[i]->name)
                    .with("status", "silent")
                    .with("reason", hosts_[index[i]].message));
      tracker_.result(index[i], false);
    }
  }

  void report(std::size_t h, p::FinStatus result, const std::string& message, double at) {
    hosts_[h].status = std::string(p::to_string(result));
    hosts_[h].message = message;
    hosts_[h].result_at = at;
    known_[h] = result;
    std::printf("  %-20s %-12s %s\n", prep_.targets[h]->name.c_str(),
                std::string(p::to_string(result)).c_str(), message.c_str());
    log::emit(event(result == p::FinStatus::applied ? log::Level::info : log::Level::warning,
                    "FC1203", "host-result")
                  .with("host", prep_.targets[h]->name)
                  .with("status", p::to_string(result))
                  .with("reason", message));
    std::fflush(stdout);
    tracker_.result(h, result == p::FinStatus::applied);
  }

  int recap() {
    std::map<std::string, std::size_t> counts;
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      ++counts[std::string(to_string(tracker_.state(i)))];
    }
    std::printf("\nRECAP %s version %llu:", prep_.bundle_name.c_str(),
                static_cast<unsigned long long>(prep_.version));
    for (const auto& [state, n] : counts) std::printf("  %s=%zu", state.c_str(), n);
    std::printf("\n");
    for (std::size_t i = 0; i < hosts_.size(); ++i) {
      const HostState s = tracker_.state(i);
      if (s == HostState::failed || s == HostState::not_held) {
        std::printf("  %-20s %-12s %s\n", prep_.targets[i]->name.c_str(), hosts_[i].status.c_str(),
                    hosts_[i].message.c_str());
      }
    }
    if (tracker_.halted()) {
      std::printf("HALTED after wave %zu: %s; hosts not activated keep the bundle held\n",
                  tracker_.waves_started(), tracker_.halt_reason().c_str());
    } else if (request_ == "pause") {
      std::printf("PAUSED after wave %zu by the operator; 'rollout resume' continues\n",
                  tracker_.waves_started());
    } else if (request_ == "interrupt") {
      std::printf(
          "INTERRUPTED after wave %zu: the rollout stays running; serve or 'rollout "
          "resume' continues it\n",
          tracker_.waves_started());
    } else if (request_ == "abort") {
      std::printf(
          "ABORTED after wave %zu by the operator; hosts not activated keep the bundle "
          "held\n",
          tracker_.waves_started());
    }
    if (store_ && request_ != "interrupt") {
      if (request_ == "pause") {
        store_->end_rollout(rollout_id_, "paused", "paused by the operator");
      } else {
        store_->end_rollout(rollout_id_,
                            tracker_.halted()     ? "halted"
                            : request_ == "abort" ? "aborted"
                                                  : "done",
                            tracker_.halted()     ? tracker_.halt_reason()
                            : request_ == "abort" ? "aborted by the operator"
                                                  : "");
      }
    }
    if (o_.report) {
      write_rollout_report(*o_.report, prep_, digest_, wire_bytes_, tracker_, hosts_,
                           since(Clock::now()));
    }
    const bool ok = !tracker_.halted() && counts["applied"] == hosts_.size();
    const std::string ended = tracker_.halted()         ? "halted"
                              : request_ == "pause"     ? "paused"
                              : request_ == "interrupt" ? "interrupted"
                              : request_ == "abort"     ? "aborted"
                              : ok                      ? "done"
                                                        : "incomplete";
    log::emit(event(ok ? log::Level::notice : log::Level::warning, "FC1204", "rollout-ended")
                  .with("bundle", prep_.bundle_name)
                  .with("version", prep_.version)
                  .with("state", ended)
                  .with("waves", tracker_.waves_started())
                  .with("applied", counts["applied"])
                  .with("hosts", hosts_.size())
                  .with("reason", tracker_.halted() ? tracker_.halt_reason() : ""));
    std::printf("%s: %zu of %zu hosts applied\n", ok ? "rolled out" : "ROLLOUT INCOMPLETE",
                counts["applied"], hosts_.size());
    return ok ? 0 : 1;
  }

  // An event of this rollout (protocol/log, FC12xx): it names the rollout.
  log::Event event(log::Level level, std::string_view id, std::string_view name) const {
    return log::Event(level, id, name).with("rollout", static_cast<std::uint64_t>(rollout_id_));
  }

  const SendOptions& o_;
  const RolloutOptions& r_;
  std::optional<RolloutRecord> resume_;
  Prepared prep_;
  RedundantPlan plan_;  // the waves, with the redundancy groups' order and requirements
  std::vector<std::vector<std::size_t>> waves_;
  SessionConfig c_;
  p::Digest digest_;
  Sockets io_;
  Clock::time_point start_;
  std::vector<HostRecord> hosts_;
  WaveTracker tracker_;
  std::vector<WindowSet> windows_;  // per target
  std::unique_ptr<Store> store_;
  std::int64_t rollout_id_ = 0;
  std::map<std::size_t, p::FinStatus> known_;  // host -> newest FIN status in this session
  std::uint64_t wire_bytes_ = 0;
  std::string request_;  // "", "pause" or "abort" (from the store), or "interrupt"
  std::int64_t scheduled_ = 0;
  std::function<bool()> interrupted_;
  p::io::FileLock lock_;
};

}  // namespace

int rollout_plan_command(const SendOptions& o, const RolloutOptions& r) {
  const Prepared prep = prepare(o);
  print_plan(prep, o, r, rollout_waves(prep, r));
  return 0;
}

int rollout_run_command(const SendOptions& o, const RolloutOptions& r,
                        const std::vector<std::string>& argv) {
  return Runner(o, r, std::nullopt).run(argv);
}

int rollout_request_command(const std::filesystem::path& state, const std::string& what) {
  Store store(state);
  if (!store.request(what)) {
    std::printf("%s: no running rollout to %s\n", state.c_str(), what.c_str());
    return 1;
  }
  std::printf("%s requested: the running rollout starts no new wave; running applies finish\n",
              what.c_str());
  return 0;
}

int rollout_list_command(const std::filesystem::path& state) {
  const Store store(state);
  for (const std::string& line : store.rollouts()) std::printf("%s\n", line.c_str());
  return 0;
}

int rollout_status_command(const StatusOptions& o) {
  const Store store(o.state);
  const auto v = store.rollout_view(o.rollout);
  if (!v) {
    std::printf("%s: no rollout%s\n", o.state.c_str(),
                o.rollout == 0 ? "" : (" " + std::to_string(o.rollout)).c_str());
    return 1;
  }
  auto when = [](std::int64_t t) { return t == 0 ? std::string("-") : iso_utc(t); };
  std::map<std::string, std::size_t> counts;
  for (const HostStatus& h : v->hosts) ++counts[h.status];
  if (o.format == StatusOptions::Format::json) {
    nlohmann::json waves = nlohmann::json::array(), hosts = nlohmann::json::array();
    for (const auto& w : v->waves) {
      waves.push_back({{"wave", w.number},
                       {"hosts", w.hosts},
                       {"started_at", when(w.started_at)},
                       {"ended_at", when(w.ended_at)}});
    }
    for (const HostStatus& h : v->hosts) {
      hosts.push_back({{"host", h.host},
                       {"status", h.status},
                       {"version", h.version},
                       {"reason", h.message},
                       {"at", when(h.at)}});
    }
    const nlohmann::json out = {{"rollout", v->id},
                                {"bundle", v->bundle},
                                {"version", v->version},
                                {"state", v->state},
                                {"reason", v->reason},
                                {"request", v->request},
                                {"waves_plan", v->waves_text},
                                {"command", v->argv},
                                {"forced", v->forced()},
                                {"max_fail", v->max_fail},
                                {"started_at", when(v->started_at)},
                                {"ended_at", when(v->ended_at)},
                                {"waves", waves},
                                {"hosts", hosts},
                                {"counts", counts}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("rollout %lld: %s version %llu, %s%s%s\n", static_cast<long long>(v->id),
              v->bundle.c_str(), static_cast<unsigned long long>(v->version), v->state.c_str(),
              v->reason.empty() ? "" : ": ", v->reason.c_str());
  std::printf("  waves %s, --max-fail %s, started %s, ended %s%s\n", v->waves_text.c_str(),
              v->max_fail.c_str(), when(v->started_at).c_str(), when(v->ended_at).c_str(),
              v->request.empty() ? "" : (", " + v->request + " requested").c_str());
  std::string command;
  for (const auto& a : v->argv) command += (command.empty() ? "" : " ") + a;
  std::printf("  command %s%s\n", command.c_str(),
              v->forced() ? "  (FORCED: redundancy rules or the DHCP lint overridden)" : "");
  std::map<std::string, std::size_t> wave_of;
  for (const auto& w : v->waves) {
    std::printf("  wave %zu: %s .. %s: %s\n", w.number, when(w.started_at).c_str(),
                when(w.ended_at).c_str(),
                [&] {
                  std::string out;
                  for (const auto& h : w.hosts) out += (out.empty() ? "" : " ") + h;
                  return out;
                }()
                    .c_str());
    for (const auto& h : w.hosts) wave_of[h] = w.number;
  }
  std::printf("  %-20s %-5s %-12s %-20s  %s\n", "host", "wave", "status", "at", "reason");
  for (const HostStatus& h : v->hosts) {
    const auto it = wave_of.find(h.host);
    std::printf("  %-20s %-5s %-12s %-20s  %s\n", h.host.c_str(),
                it == wave_of.end() ? "-" : std::to_string(it->second).c_str(), h.status.c_str(),
                when(h.at).c_str(), h.message.c_str());
  }
  std::printf("RECAP %s version %llu:", v->bundle.c_str(),
              static_cast<unsigned long long>(v->version));
  for (const auto& [status, n] : counts) std::printf("  %s=%zu", status.c_str(), n);
  std::printf("\n");
  for (const HostStatus& h : v->hosts) {
    if (h.status == "applied" || h.status == "held") continue;
    std::printf("  %-20s %-12s %s\n", h.host.c_str(), h.status.c_str(), h.message.c_str());
  }
  return 0;
}

namespace {

// A rollout from the store, run with the command line it was given: resumed (`resume`), or
// started now (`scheduled`, the id of a rollout `rollout start` scheduled).
int run_stored(RolloutRecord record, bool resume, const std::function<bool()>& interrupted) {
  std::vector<char*> args;
  for (std::string& a : record.argv) args.push_back(a.data());
  const Invocation inv = parse_command_line(static_cast<int>(args.size()), args.data());
  if (inv.command != Command::rollout_run && inv.command != Command::rollout_start &&
      inv.command != Command::push) {
    throw std::runtime_error("the stored command line of rollout " + std::to_string(record.id) +
                             " is not a rollout");
  }
  const std::int64_t id = record.id;
  return Runner(inv.send, inv.rollout, resume ? std::optional(std::move(record)) : std::nullopt,
                resume ? 0 : id, interrupted)
      .run(inv.argv);
}

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) {
  g_stop = 1;
}

}  // namespace

int rollout_resume_command(const std::filesystem::path& state) {
  Store store(state);
  auto record = store.unfinished_rollout();
  if (!record) {
    std::printf("%s: no unfinished rollout to resume\n", state.c_str());
    return 0;
  }
  store.set_running(record->id);  // a paused one runs again
  return run_stored(std::move(*record), true, {});
}

int rollout_start_command(const SendOptions& o, const RolloutOptions& r,
                          const std::vector<std::string>& argv) {
  const Prepared prep = prepare(o);  // refuse now what would fail at the start time
  print_plan(prep, o, r, rollout_waves(prep, r));
  Store store(o.state);
  const std::int64_t id = store.schedule_rollout(argv, r.start_at);
  std::printf("rollout %lld scheduled for %s; 'fleetcast-sender serve --state %s' runs it\n",
              static_cast<long long>(id), iso(SysSeconds(std::chrono::seconds(r.start_at))).c_str(),
              o.state.c_str());
  return 0;
}

int serve_command(const std::filesystem::path& state) {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  const auto interrupted = [] { return g_stop != 0; };
  std::printf("serving rollouts from %s\n", state.c_str());
  std::fflush(stdout);
  log::emit(log::info("FC1101", "serving").with("state", state.string()));
  while (!g_stop) {
    Store store(state);
    // A running rollout whose lock nobody holds lost its manager: resume it.
    for (RolloutRecord& rec : store.running_rollouts()) {
      {
        p::io::FileLock probe;
        if (!probe.try_lock(state / ("rollout-" + std::to_string(rec.id) + ".lock"))) continue;
      }
      std::printf("resuming rollout %lld (its manager is gone)\n", static_cast<long long>(rec.id));
      std::fflush(stdout);
      const auto id = static_cast<std::uint64_t>(rec.id);
      log::emit(log::notice("FC1102", "rollout-resuming").with("rollout", id));
      try {
        run_stored(std::move(rec), true, interrupted);
      } catch (const std::exception& e) {
        std::printf("rollout %llu: %s\n", static_cast<unsigned long long>(id), e.what());
        log::emit(
            log::error("FC1104", "rollout-failed").with("rollout", id).with("reason", e.what()));
      }
      if (g_stop) break;
    }
    if (auto due = store.due_rollout(wall_now().time_since_epoch().count()); due && !g_stop) {
      std::printf("starting scheduled rollout %lld\n", static_cast<long long>(due->id));
      std::fflush(stdout);
      const std::int64_t id = due->id;
      log::emit(log::notice("FC1103", "rollout-starting")
                    .with("rollout", static_cast<std::uint64_t>(id)));
      try {
        run_stored(std::move(*due), false, interrupted);
      } catch (const std::exception& e) {
        std::printf("rollout %lld cannot start: %s\n", static_cast<long long>(id), e.what());
        log::emit(log::error("FC1104", "rollout-failed")
                      .with("rollout", static_cast<std::uint64_t>(id))
                      .with("reason", e.what()));
        store.end_rollout(id, "failed", e.what());
      }
    }
    std::fflush(stdout);
    for (int i = 0; i < 10 && !g_stop; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::printf("serve: stopped\n");
  std::fflush(stdout);
  log::emit(log::info("FC1105", "stopped"));
  return 0;
}

}  // namespace fleetcast::sender
