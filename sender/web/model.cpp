#include "sender/web/model.hpp"

#include <set>

#include "sender/lint/dhcp_model.hpp"
#include "sender/lint/lint.hpp"
#include "sender/rollout/plan.hpp"
#include "sender/rollout/recap.hpp"

namespace fleetcast::sender::web {
namespace {

constexpr std::size_t kRolloutsShown = 20;

bool ended_state(const std::string& state) {
  return state == "done" || state == "failed" || state == "halted" || state == "aborted";
}

HostCell cell_of(const HostStatus& h, const std::string& site, bool started, bool ended,
                 bool rollout_ended) {
  return {h.host, cell_state(h.status, started, ended, rollout_ended), h.status, h.message, site,
          h.at};
}

}  // namespace

std::string cell_state(const std::string& status, bool wave_started, bool wave_ended,
                       bool rollout_ended) {
  if (status == "applied" || status == "rolled-back" || status == "denied") return status;
  if (status == "failed" || status == "rejected") return "failed";
  const bool over = (wave_started && wave_ended) || rollout_ended;
  if (status == "held" || status == "checked" || status == "received") {
    if (wave_started && !over) return "activating";
    return wave_started ? "silent" : "held";
  }
  return over ? "silent" : "pending";  // no answer, registered, completed
}

std::string PoolUse::level() const {
  if (!active || addresses == 0) return "unknown";
  const double used = static_cast<double>(*active) / static_cast<double>(addresses);
  return used >= 0.9 ? "critical" : used >= 0.8 ? "warning" : "ok";
}

std::vector<PoolUse> pool_use(const DhcpPools& pools, const std::string& leases) {
  const lint::ReportedRuns runs = lint::parse_lease_report(leases);
  std::vector<PoolUse> out;
  for (const DhcpPools::Pool& p : pools.pools) {
    PoolUse u;
    u.range = lint::format_range({p.low, p.high, p.subnet, "", p.retired, 0});
    u.subnet = p.subnet;
    u.addresses = p.high >= p.low ? std::uint64_t{p.high} - p.low + 1 : 0;
    u.retired = p.retired;
    u.bundle = pools.bundle;
    u.version = pools.version;
    if (runs.complete) {
      std::uint64_t n = 0;
      for (const auto& [low, high] : runs.runs) {
        const std::uint32_t a = std::max(low, p.low), b = std::min(high, p.high);
        if (a <= b) n += std::uint64_t{b} - a + 1;
      }
      u.active = n;
    }
    out.push_back(std::move(u));
  }
  return out;
}

RolloutModel rollout_model(const RolloutView& view) {
  RolloutModel m;
  m.view = view;
  std::string error;
  const auto plan = view.plan.empty() ? std::nullopt : plan_from_json(view.plan, &error);
  std::map<std::string, const HostStatus*> status;
  for (const HostStatus& h : view.hosts) status[h.host] = &h;
  const auto site_of = [&](const std::string& host) -> std::string {
    if (!plan) return "";
    const auto it = plan->sites.find(host);
    return it == plan->sites.end() ? "" : it->second;
  };
  // The waves: the plan's (every one, started or not), else the ones the store recorded.
  std::vector<std::vector<std::string>> members;
  if (plan) {
    for (const auto& w : plan->waves) {
      members.emplace_back();
      for (std::size_t i : w) members.back().push_back(plan->hosts.at(i));
    }
  } else {
    for (const auto& w : view.waves) members.push_back(w.hosts);
  }
  const bool rollout_ended = ended_state(view.state);
  std::map<std::string, std::string> state_of;
  std::set<std::string> placed;
  for (std::size_t n = 0; n < members.size(); ++n) {
    WaveModel w;
    w.number = n + 1;
    for (const auto& stored : view.waves) {
      if (stored.number != w.number) continue;
      w.started_at = stored.started_at;
      w.ended_at = stored.ended_at;
    }
    for (const std::string& host : members[n]) {
      const auto it = status.find(host);
      if (it == status.end()) continue;
      w.hosts.push_back(
          cell_of(*it->second, site_of(host), w.started_at != 0, w.ended_at != 0, rollout_ended));
      state_of[host] = w.hosts.back().state;
      placed.insert(host);
    }
    m.waves.push_back(std::move(w));
  }
  for (const HostStatus& h : view.hosts) {
    if (placed.count(h.host)) continue;
    m.unplaced.push_back(cell_of(h, site_of(h.host), false, false, rollout_ended));
    state_of[h.host] = m.unplaced.back().state;
  }
  std::vector<RecapRow> rows;
  for (const HostStatus& h : view.hosts) {
    ++m.counts[state_of[h.host]];
    rows.push_back(
        {h.host, h.status, h.status, h.message, h.status != "applied" && h.status != "held"});
  }
  m.recap = recap_lines(view.bundle, view.version, rows);
  if (plan) {
    m.notes = plan->notes;
    for (std::size_t i = 0; i < plan->before.size() && i < plan->hosts.size(); ++i) {
      for (const auto& b : plan->before[i]) {
        const std::string& after = plan->hosts.at(b.host);
        m.redundancy.push_back(
            {plan->hosts[i], state_of[plan->hosts[i]], after, state_of[after], b.why});
      }
    }
  }
  return m;
}

Overview overview(const Store& store, std::int64_t now) {
  Overview o;
  o.now = now;
  std::map<std::string, std::string> sites;
  for (std::int64_t id : store.rollout_ids(kRolloutsShown)) {
    const auto v = store.rollout_view(id);
    if (!v) continue;
    RolloutModel m = rollout_model(*v);
    o.rollouts.push_back({v->id, v->bundle, v->state, v->reason, v->version, v->waves.size(),
                          m.waves.size(), v->started_at, v->ended_at});
    for (const auto& w : m.waves) {
      for (const auto& c : w.hosts) {
        if (!c.site.empty()) sites.emplace(c.host, c.site);  // the newest rollout's word
      }
    }
    const bool better = !o.focus || (!o.focus->live() && m.live());
    if (better) o.focus = std::move(m);
  }
  std::map<std::string, std::vector<HostStatus>> results;
  for (HostStatus& h : store.status("", "")) results[h.host].push_back(std::move(h));
  const auto leases = store.reported_leases();
  // The pools of each server's newest dhcp-server bundle (by when it was sent).
  std::map<std::string, DhcpPools> pools;
  for (DhcpPools& d : store.dhcp_pools()) {
    auto& newest = pools[d.host];
    if (newest.host.empty() || d.at >= newest.at) newest = std::move(d);
  }
  for (Store::HostRow& row : store.host_rows()) {
    FleetHost h{row.name, std::move(row.groups), "", row.last_heard, {}, "", {}, {}};
    if (const auto s = sites.find(h.name); s != sites.end()) h.site = s->second;
    if (const auto r = results.find(h.name); r != results.end()) h.bundles = std::move(r->second);
    if (const auto l = leases.find(h.name); l != leases.end()) h.leases = l->second.message;
    if (const auto d = pools.find(h.name); d != pools.end()) {
      h.pools = pool_use(d->second, h.leases);
      h.lint = d->second.flags;
    }
    o.hosts.push_back(std::move(h));
  }
  return o;
}

std::optional<HostPage> host_page(const Store& store, const std::string& name) {
  for (Store::HostRow& row : store.host_rows()) {
    if (row.name != name) continue;
    return HostPage{row.name, std::move(row.groups), row.last_heard, store.host_history(name, 50)};
  }
  return std::nullopt;
}

}  // namespace fleetcast::sender::web
