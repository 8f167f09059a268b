#include "sender/rollout_command.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "protocol/io/file.hpp"
#include "protocol/text.hpp"
#include "sender/push_setup.hpp"
#include "sender/report.hpp"
#include "sender/rollout/activation.hpp"
#include "sender/rollout/waves.hpp"
#include "sender/rollout/window.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

std::string iso(SysSeconds t) {
  const std::time_t tt = t.time_since_epoch().count();
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
  return buf;
}

SysSeconds wall_now() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

// Inside the window (waiting for its next opening first, if needed): when it closes, on the
// session's clock. Without a window: never.
Clock::time_point enter_window(const std::optional<Window>& window, std::size_t wave) {
  if (!window) return Clock::time_point::max();
  SysSeconds now = wall_now();
  if (!window->contains(now)) {
    const SysSeconds open = window->next_open(now);
    std::printf("wave %zu: waiting for the window '%s': opens at %s\n", wave + 1,
                window->text().c_str(), iso(open).c_str());
    std::fflush(stdout);
    std::this_thread::sleep_until(std::chrono::system_clock::time_point(open));
    now = wall_now();
    while (!window->contains(now)) {  // a clock step: at most a second more
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      now = wall_now();
    }
  }
  const SysSeconds close = window->closes_at(now);
  std::printf("wave %zu: inside the window until %s\n", wave + 1, iso(close).c_str());
  return Clock::now() + (close - now);
}

std::string names(const std::vector<const Host*>& hosts, const std::vector<std::size_t>& which) {
  std::string out;
  for (std::size_t i : which) out += (out.empty() ? "" : " ") + hosts[i]->name;
  return out;
}

void print_plan(const Prepared& prep, const SendOptions& o, const RolloutOptions& r,
                const std::vector<std::vector<std::size_t>>& waves) {
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
  if (!r.window.empty()) {
    const auto w = Window::parse(r.window, nullptr);
    std::printf("  window '%s': %s\n", r.window.c_str(),
                w->contains(wall_now())
                    ? "open now"
                    : ("next opens at " + iso(w->next_open(wall_now()))).c_str());
  }
  for (const Host* h : prep.not_targeted) {
    std::printf("  not in the rollout: %s (the bundle's targets leave it out)\n", h->name.c_str());
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
                          const SenderSession& dist, const WaveTracker& t,
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
                           {"digest", p::text::hex(dist.digest())},
                           {"waves", t.waves().size()},
                           {"waves_started", t.waves_started()},
                           {"halted", t.halted()},
                           {"halt_reason", t.halt_reason()},
                           {"distribution_wire_bytes", dist.stats().wire_bytes},
                           {"seconds", seconds},
                           {"hosts", jh}};
  p::io::write_file_atomic(path, p::as_bytes(report.dump(2) + "\n"));
}

}  // namespace

int rollout_plan_command(const SendOptions& o, const RolloutOptions& r) {
  const Prepared prep = prepare(o);
  print_plan(prep, o, r, plan_waves(r.waves, prep.targets.size()));
  return 0;
}

int rollout_run_command(const SendOptions& o, const RolloutOptions& r) {
  Prepared prep = prepare(o);
  const auto waves = plan_waves(r.waves, prep.targets.size());
  print_plan(prep, o, r, waves);
  const SessionConfig c = session_config(o, prep, p::ApplyMode::hold);
  Sockets io(o);
  const Clock::time_point start = Clock::now();
  auto since = [&](Clock::time_point t) { return seconds_between(start, t); };

  // 1. Distribute once: every host receives, verifies and checks the bundle, and holds it.
  std::printf("distributing %s once (session %s): hosts check it and hold it\n", o.name.c_str(),
              p::text::hex64(c.session.value).c_str());
  SenderSession dist(c, std::move(prep.file), prep.targets, prep.key, start);
  auto store = open_store(o, c, prep, dist.digest());
  const std::int64_t rollout_id =
      store ? store->begin_rollout(c.session, r.waves_text, r.max_fail.to_string()) : 0;
  dist.observe(record_into(store.get(), c.session));
  drive(dist, io);
  if (store) store->end_session(c.session, dist.success());
  print_fin_table(dist);
  print_summary(dist, start, Clock::now());
  std::vector<HostRecord> hosts(prep.targets.size());
  std::vector<bool> held(prep.targets.size());
  for (std::size_t w = 0; w < waves.size(); ++w) {
    for (std::size_t h : waves[w]) hosts[h].wave = w;
  }
  for (std::size_t i = 0; i < held.size(); ++i) {
    const HostReport& h = dist.hosts()[i];
    held[i] = h.fin && h.fin_status == p::FinStatus::held;
    hosts[i].status = h.fin      ? std::string(p::to_string(h.fin_status))
                      : h.denied ? "denied"
                                 : "silent";
    hosts[i].message = h.fin ? h.fin_message : h.deny_reason;
  }
  WaveTracker tracker(waves, prep.targets.size(), r.max_fail);
  tracker.distributed(held);
  std::optional<Window> window;
  if (!r.window.empty()) window = Window::parse(r.window, nullptr);

  // 2. Activate wave by wave.
  while (!tracker.halted() && tracker.waves_started() < waves.size()) {
    const Clock::time_point closes = enter_window(window, tracker.waves_started());
    const auto w = tracker.start_next_wave();
    if (!w) break;
    std::vector<const Host*> wave_hosts;
    std::vector<std::size_t> index;
    for (std::size_t h : tracker.activated_in(*w)) {
      if (tracker.state(h) != HostState::activated) continue;
      wave_hosts.push_back(prep.targets[h]);
      index.push_back(h);
      hosts[h].activated_at = since(Clock::now());
    }
    std::printf("wave %zu: activating %zu host(s): %s\n", *w + 1, wave_hosts.size(),
                names(prep.targets, index).c_str());
    ActivationConfig ac;
    ac.name = c.name;
    ac.session = c.session;
    ac.version = c.version;
    ac.digest = dist.digest();
    ac.wave = static_cast<std::uint32_t>(*w + 1);
    ac.ctrl_group = c.ctrl_group;
    ac.wall_time = static_cast<std::uint64_t>(std::time(nullptr));
    ac.timeout = r.activate_timeout;
    ac.stop_sending = closes;
    Activation act(ac, wave_hosts, prep.key, Clock::now());
    act.observe(record_into(store.get(), c.session));
    if (store) {
      std::vector<std::string> wave_names;
      for (const Host* h : wave_hosts) wave_names.push_back(h->name);
      store->wave_started(rollout_id, *w + 1, wave_names);
    }
    std::vector<bool> reported(index.size(), false);
    drive(act, io, [&](Clock::time_point now) {
      for (std::size_t i = 0; i < index.size(); ++i) {
        const auto result = act.result(i);
        if (reported[i] || !result) continue;
        reported[i] = true;
        const HostReport& rep = act.receipts().hosts()[i];
        hosts[index[i]].status = std::string(p::to_string(*result));
        hosts[index[i]].message = rep.fin_message;
        hosts[index[i]].result_at = since(now);
        std::printf("  %-20s %-12s %s\n", wave_hosts[i]->name.c_str(),
                    std::string(p::to_string(*result)).c_str(), rep.fin_message.c_str());
        tracker.result(index[i], *result == p::FinStatus::applied);
      }
    });
    for (std::size_t i = 0; i < index.size(); ++i) {
      if (reported[i]) continue;  // silent until the timeout: unreachable, counted as failed
      hosts[index[i]].status = "silent";
      hosts[index[i]].message = "no result within --activate-timeout";
      std::printf("  %-20s %-12s %s\n", wave_hosts[i]->name.c_str(), "silent",
                  hosts[index[i]].message.c_str());
      tracker.result(index[i], false);
    }
    if (store) store->wave_ended(rollout_id, *w + 1);
    if (tracker.halted()) break;
    if (r.soak.count() > 0 && *w + 1 < waves.size()) {
      std::printf("soaking %llds\n", static_cast<long long>(r.soak.count()));
      std::this_thread::sleep_for(r.soak);
    }
  }

  // 3. The recap.
  std::map<std::string, std::size_t> counts;
  for (std::size_t i = 0; i < hosts.size(); ++i) ++counts[std::string(to_string(tracker.state(i)))];
  std::printf("\nRECAP %s version %llu:", prep.bundle_name.c_str(),
              static_cast<unsigned long long>(prep.version));
  for (const auto& [state, n] : counts) std::printf("  %s=%zu", state.c_str(), n);
  std::printf("\n");
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    const HostState s = tracker.state(i);
    if (s == HostState::failed || s == HostState::not_held) {
      std::printf("  %-20s %-12s %s\n", prep.targets[i]->name.c_str(), hosts[i].status.c_str(),
                  hosts[i].message.c_str());
    }
  }
  if (tracker.halted()) {
    std::printf("HALTED after wave %zu: %s; hosts not activated keep the bundle held\n",
                tracker.waves_started(), tracker.halt_reason().c_str());
  }
  if (store) {
    store->end_rollout(rollout_id, tracker.halted() ? "halted" : "done", tracker.halt_reason());
  }
  if (o.report) {
    write_rollout_report(*o.report, prep, dist, tracker, hosts, since(Clock::now()));
  }
  const bool ok = !tracker.halted() && counts["applied"] == hosts.size();
  std::printf("%s: %zu of %zu hosts applied\n", ok ? "rolled out" : "ROLLOUT INCOMPLETE",
              counts["applied"], hosts.size());
  return ok ? 0 : 1;
}

}  // namespace fleetcast::sender
