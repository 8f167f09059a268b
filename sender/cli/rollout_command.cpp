#include "sender/cli/rollout_command.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

#include "protocol/io/clock.hpp"
#include "protocol/io/file.hpp"
#include "protocol/log/log.hpp"
#include "protocol/text.hpp"
#include "sender/cli/report.hpp"
#include "sender/rollout/recap.hpp"
#include "sender/web/api.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

SysSeconds wall_now() {
  return p::io::wall_now();
}

std::string names(const RolloutPlan& plan, const std::vector<std::size_t>& which) {
  std::string out;
  for (std::size_t i : which) out += (out.empty() ? "" : " ") + plan.hosts[i];
  return out;
}

// Prints the hosts of each distinct set of windows and when it opens; throws (naming the hosts)
// when a set never opens, so neither plan nor run accepts a rollout some hosts could never get.
void print_windows(const RolloutPlan& plan) {
  std::map<std::string, std::vector<std::size_t>> by_text;
  for (std::size_t i = 0; i < plan.windows.size(); ++i) {
    if (!plan.windows[i].empty()) by_text[plan.windows[i].text()].push_back(i);
  }
  if (by_text.empty()) std::printf("  maintenance windows: none, activation at any time\n");
  const SysSeconds now = wall_now();
  for (const auto& [text, hosts] : by_text) {
    const auto open = plan.windows[hosts.front()].next_open(now);
    if (!open) {
      throw std::runtime_error("the windows " + text + " of " + names(plan, hosts) +
                               " are never open at once within 8 days");
    }
    std::printf("  window %s for %s: %s\n", text.c_str(), names(plan, hosts).c_str(),
                *open == now ? "open now" : ("next opens at " + iso_utc(*open)).c_str());
  }
}

void print_plan(const Prepared& prep, const SendOptions& o, const RolloutPlan& plan) {
  const auto& waves = plan.waves;
  const std::size_t n = plan.hosts.size();
  std::printf("rollout of %s: %s version %llu (%s) to %zu hosts in %zu waves\n", o.file.c_str(),
              prep.bundle_name.c_str(), static_cast<unsigned long long>(prep.version),
              prep.kind.c_str(), n, waves.size());
  std::printf(
      "  --max-fail %s: %zu failure(s) of %zu tolerated fleet-wide, one more halts; "
      "soak %llds after each wave\n",
      plan.max_fail.to_string().c_str(), tolerated(plan.max_fail, n), n,
      static_cast<long long>(plan.soak.count()));
  for (std::size_t w = 0; w < waves.size(); ++w) {
    std::printf("  wave %zu%s (%zu, tolerates %zu): %s\n", w + 1, w == 0 ? " canary" : "",
                waves[w].size(), tolerated(plan.max_fail, waves[w].size()),
                names(plan, waves[w]).c_str());
  }
  for (const RedundancyGroup& g : prep.inventory->redundancy()) {
    std::printf("  redundancy %s\n", g.describe().c_str());
  }
  for (const auto& note : plan.notes) std::printf("  moved: %s\n", note.c_str());
  for (const auto& v : plan.violations) std::printf("  FORCED (--force): %s\n", v.c_str());
  print_windows(plan);
  for (const Host* h : prep.not_targeted) {
    std::printf("  not in the rollout: %s (the bundle's targets or its encryption leave it out)\n",
                h->name.c_str());
  }
}

// The DHCP lint of a dhcp-server bundle, then the plan; refuses what breaks the rules (naming
// the servers, or the group and hosts) unless --force.
RolloutPlan checked_plan(const Prepared& prep, const RolloutOptions& r) {
  refuse_dhcp_conflicts(prep, r.force);  // plan, run and start all come here first
  return make_plan(prep.targets, *prep.inventory, r);
}

void write_rollout_report(const std::filesystem::path& path, const Prepared& prep,
                          const p::Digest& digest, const Rollout& r, double seconds) {
  nlohmann::json jh = nlohmann::json::array();
  for (std::size_t i = 0; i < r.hosts().size(); ++i) {
    const HostOutcome& h = r.hosts()[i];
    nlohmann::json j = {{"host", r.plan().hosts[i]},
                        {"wave", h.wave + 1},
                        {"state", to_string(r.tracker().state(i))},
                        {"status", h.status()},
                        {"message", h.message}};
    if (h.activated_at) j["activated_at_s"] = *h.activated_at;
    if (h.result_at) j["result_at_s"] = *h.result_at;
    jh.push_back(j);
  }
  const nlohmann::json report = {{"bundle", prep.bundle_name},
                                 {"version", prep.version},
                                 {"digest", p::text::hex(digest)},
                                 {"waves", r.tracker().waves().size()},
                                 {"waves_started", r.tracker().waves_started()},
                                 {"halted", r.tracker().halted()},
                                 {"halt_reason", r.tracker().halt_reason()},
                                 {"distribution_wire_bytes", r.wire_bytes()},
                                 {"seconds", seconds},
                                 {"hosts", jh}};
  // 0600: it holds every host's FIN text (script output, whatever a host reported).
  p::io::write_file_atomic(path, p::as_bytes(report.dump(2) + "\n"), 0600);
}

}  // namespace

// The targets of a stored plan, by name: from today's inventory, or (a host removed from it
// since) as the store recorded it for the rollout's session. Hosts added to the inventory since
// are not in the rollout.
void LiveRollout::targets_from_plan(p::SessionId session) {
  std::vector<const Host*> targets;
  const auto recorded = store->session_hosts(session);
  for (const std::string& name : plan.hosts) {
    if (const Host* h = prep.inventory->find(name)) {
      targets.push_back(h);
      continue;
    }
    const auto it = std::find_if(recorded.begin(), recorded.end(),
                                 [&](const Host& r) { return r.name == name; });
    if (it == recorded.end()) {
      throw std::runtime_error("host " + name +
                               " of the stored plan is neither in the inventory "
                               "nor recorded for the rollout's session");
    }
    std::printf("  %s left the inventory since the rollout began: its recorded key is used\n",
                name.c_str());
    gone.push_back(std::make_unique<Host>(*it));
    targets.push_back(gone.back().get());
  }
  for (const Host* h : prep.targets) {
    if (std::find(plan.hosts.begin(), plan.hosts.end(), h->name) == plan.hosts.end()) {
      std::printf("  not in the rollout: %s (not in its stored plan: added since it began)\n",
                  h->name.c_str());
    }
  }
  prep.targets = std::move(targets);
}

LiveRollout::LiveRollout(const SendOptions& options, const RolloutOptions& r,
                         const std::optional<RolloutRecord>& resume, std::int64_t scheduled,
                         const std::vector<std::string>& argv)
    : o(options), prep(prepare(options)), io(options) {
  record_dhcp_pools(prep, refuse_dhcp_conflicts(prep, r.force));
  if (resume && !resume->plan.empty()) {
    std::string error;
    auto stored = plan_from_json(resume->plan, &error);
    if (!stored) throw std::runtime_error("the stored plan of the rollout: " + error);
    plan = std::move(*stored);
    store = std::make_unique<Store>(o.state);
    targets_from_plan(resume->session);
  } else {
    if (resume) std::printf("  (a rollout stored without its plan: waves computed again)\n");
    plan = make_plan(prep.targets, *prep.inventory, r);
  }
  print_plan(prep, o, plan);
  io.use_sites(*prep.inventory, prep.targets);
  SessionConfig c = session_config(o, prep, p::ApplyMode::hold);
  if (resume) {
    c.session = resume->session;
    c.file_id = resume->file_id;
  }
  digest = prep.file->digest();
  store = open_store(o, c, prep, digest);
  std::int64_t id = 0;
  if (store) {
    if (resume) {
      id = resume->id;
    } else if (scheduled != 0) {
      id = scheduled;
      store->start_scheduled(id, c.session, plan);
    } else {
      id = store->begin_rollout(c.session, plan, argv);
    }
    // One manager process per rollout: the lock goes with the process, however it ends.
    if (!lock.try_lock(o.state / ("rollout-" + std::to_string(id) + ".lock"))) {
      throw std::runtime_error("rollout " + std::to_string(id) +
                               " is being run by another manager process");
    }
  }
  RolloutBundle b{c, prep.file, prep.targets, prep.bundle_name, prep.version, digest};
  start = Clock::now();
  RolloutOutput out;
  out.say = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);  // progress in a log file as it happens
  };
  out.session_ended = [this](const SenderSession& s) {
    print_fin_table(s);
    print_summary(s, start, Clock::now());
  };
  rollout = std::make_unique<Rollout>(std::move(plan), std::move(b), prep.key, store.get(), id,
                                      resume.has_value(), wall_now, std::move(out), start);
}

int LiveRollout::ended() {
  if (o.report) {
    write_rollout_report(*o.report, prep, digest, *rollout, rollout->seconds(Clock::now()));
  }
  return rollout->succeeded() ? 0 : 1;
}

int rollout_plan_command(const SendOptions& o, const RolloutOptions& r) {
  const Prepared prep = prepare(o);
  print_plan(prep, o, checked_plan(prep, r));
  return 0;
}

int rollout_run_command(const SendOptions& o, const RolloutOptions& r,
                        const std::vector<std::string>& argv) {
  LiveRollout live(o, r, std::nullopt, 0, argv);
  drive(*live.rollout, live.io);
  return live.ended();
}

std::unique_ptr<LiveRollout> stored_rollout(const RolloutRecord& record, bool resume) {
  std::vector<std::string> argv = record.argv;
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  const Invocation inv = parse_command_line(static_cast<int>(args.size()), args.data());
  if (inv.command != Command::rollout_run && inv.command != Command::rollout_start &&
      inv.command != Command::push) {
    throw std::runtime_error("the stored command line of rollout " + std::to_string(record.id) +
                             " is not a rollout");
  }
  return std::make_unique<LiveRollout>(inv.send, inv.rollout,
                                       resume ? std::optional(record) : std::nullopt,
                                       resume ? 0 : record.id, inv.argv);
}

int rollout_resume_command(const std::filesystem::path& state) {
  Store store(state);
  auto record = store.unfinished_rollout();
  if (!record) {
    std::printf("%s: no unfinished rollout to resume\n", state.c_str());
    return 0;
  }
  store.set_running(record->id);  // a paused one runs again
  std::printf("resuming rollout %lld\n", static_cast<long long>(record->id));
  auto live = stored_rollout(*record, true);
  drive(*live->rollout, live->io);
  return live->ended();
}

int rollout_start_command(const SendOptions& o, const RolloutOptions& r,
                          const std::vector<std::string>& argv) {
  const Prepared prep = prepare(o);  // refuse now what would fail at the start time
  print_plan(prep, o, checked_plan(prep, r));
  Store store(o.state);
  const std::int64_t id = store.schedule_rollout(argv, r.start_at);
  std::printf("rollout %lld scheduled for %s; 'fleetcast-sender serve --state %s' runs it\n",
              static_cast<long long>(id), iso_utc(r.start_at).c_str(), o.state.c_str());
  return 0;
}

int rollout_request_command(const std::filesystem::path& state, Request what) {
  Store store(state);
  const std::string word(to_string(what));
  if (!store.request(what)) {
    std::printf("%s: no running rollout to %s\n", state.c_str(), word.c_str());
    return 1;
  }
  std::printf("%s requested: the running rollout starts no new wave; running applies finish\n",
              word.c_str());
  return 0;
}

int rollout_list_command(const std::filesystem::path& state) {
  const Store store(state);
  for (const std::string& line : store.rollouts()) std::printf("%s\n", line.c_str());
  return 0;
}

namespace {

using web::when;  // ISO 8601 UTC, "-" for never: the same words as the API

// A column of at least `width`.
std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s + " ";
}

// The site each host of the rollout is behind, from its stored plan (none for older rollouts).
std::map<std::string, std::string> sites_of(const RolloutView& v) {
  std::string error;
  const auto plan = v.plan.empty() ? std::nullopt : plan_from_json(v.plan, &error);
  return plan ? plan->sites : std::map<std::string, std::string>{};
}

}  // namespace

int rollout_status_command(const StatusOptions& o) {
  const Store store(o.state);
  const auto v = store.rollout_view(o.rollout);
  if (!v) {
    std::string which;  // (appended: GCC 12 warns falsely of overlap for " " + to_string)
    if (o.rollout != 0) which.append(" ").append(std::to_string(o.rollout));
    std::printf("%s: no rollout%s\n", o.state.c_str(), which.c_str());
    return 1;
  }
  if (o.format == StatusOptions::Format::json) {
    std::printf("%s\n", web::rollout_json(*v).dump(2).c_str());
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
  const auto site_names = sites_of(*v);
  const auto site_of = [&](const std::string& host) -> std::string {
    const auto it = site_names.find(host);
    return it == site_names.end() ? "-" : it->second;
  };
  const bool sites = !site_names.empty();
  std::printf("  %-20s %-5s %-12s %-20s  %s%s\n", "host", "wave", "status", "at",
              sites ? "site                      " : "", "reason");
  for (const HostStatus& h : v->hosts) {
    const auto it = wave_of.find(h.host);
    std::printf("  %-20s %-5s %-12s %-20s  %s%s\n", h.host.c_str(),
                it == wave_of.end() ? "-" : std::to_string(it->second).c_str(), h.status.c_str(),
                when(h.at).c_str(), sites ? pad(site_of(h.host), 26).c_str() : "",
                h.message.c_str());
  }
  std::vector<RecapRow> rows;
  for (const HostStatus& h : v->hosts) {
    rows.push_back(
        {h.host, h.status, h.status, h.message, h.status != "applied" && h.status != "held"});
  }
  for (const std::string& line : recap_lines(v->bundle, v->version, rows)) {
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace fleetcast::sender
