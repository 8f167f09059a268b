#include "sender/web/api.hpp"

#include <algorithm>

#include "protocol/text.hpp"
#include "sender/fleet/window.hpp"
#include "sender/rollout/plan.hpp"

namespace fleetcast::sender::web {
namespace {

nlohmann::json cell_json(const HostCell& c) {
  return {{"host", c.host},     {"state", c.state}, {"status", c.status},
          {"reason", c.reason}, {"site", c.site},   {"at", when(c.at)}};
}

nlohmann::json status_json(const HostStatus& h) {
  return {{"bundle", h.bundle},  {"version", h.version}, {"status", h.status},
          {"reason", h.message}, {"at", when(h.at)},     {"installed", h.installed}};
}

}  // namespace

std::string when(std::int64_t seconds) {
  return seconds == 0 ? std::string("-") : iso_utc(seconds);
}

nlohmann::json rollout_json(const RolloutView& v) {
  std::string error;
  const auto plan = v.plan.empty() ? std::nullopt : plan_from_json(v.plan, &error);
  nlohmann::json waves = nlohmann::json::array(), hosts = nlohmann::json::array();
  for (const auto& w : v.waves) {
    waves.push_back({{"wave", w.number},
                     {"hosts", w.hosts},
                     {"started_at", when(w.started_at)},
                     {"ended_at", when(w.ended_at)}});
  }
  std::map<std::string, std::size_t> counts;
  for (const HostStatus& h : v.hosts) {
    const std::string site = plan && plan->sites.count(h.host) ? plan->sites.at(h.host) : "";
    hosts.push_back({{"host", h.host},
                     {"status", h.status},
                     {"version", h.version},
                     {"reason", h.message},
                     {"at", when(h.at)},
                     {"site", site}});
    ++counts[h.status];
  }
  return {{"rollout", v.id},
          {"bundle", v.bundle},
          {"version", v.version},
          {"state", v.state},
          {"reason", v.reason},
          {"request", v.request},
          {"waves_plan", v.waves_text},
          {"command", v.argv},
          {"forced", v.forced()},
          {"max_fail", v.max_fail},
          {"started_at", when(v.started_at)},
          {"ended_at", when(v.ended_at)},
          {"waves", waves},
          {"hosts", hosts},
          {"counts", counts}};
}

nlohmann::json rollout_model_json(const RolloutModel& m) {
  nlohmann::json out = rollout_json(m.view);
  nlohmann::json cells = nlohmann::json::array();
  for (const WaveModel& w : m.waves) {
    nlohmann::json hosts = nlohmann::json::array();
    for (const HostCell& c : w.hosts) hosts.push_back(cell_json(c));
    cells.push_back({{"wave", w.number},
                     {"started_at", when(w.started_at)},
                     {"ended_at", when(w.ended_at)},
                     {"hosts", hosts}});
  }
  nlohmann::json unplaced = nlohmann::json::array(), redundancy = nlohmann::json::array();
  for (const HostCell& c : m.unplaced) unplaced.push_back(cell_json(c));
  for (const auto& b : m.redundancy) {
    redundancy.push_back({{"host", b.host},
                          {"state", b.host_state},
                          {"after", b.after},
                          {"after_state", b.after_state},
                          {"why", b.why}});
  }
  out["live"] = m.live();
  out["cells"] = cells;
  out["unplaced"] = unplaced;
  out["cell_counts"] = m.counts;
  out["recap"] = m.recap;
  out["redundancy"] = redundancy;
  out["notes"] = m.notes;
  return out;
}

nlohmann::json rollouts_json(const std::vector<RolloutSummary>& rollouts) {
  nlohmann::json out = nlohmann::json::array();
  for (const RolloutSummary& r : rollouts) {
    out.push_back({{"rollout", r.id},
                   {"bundle", r.bundle},
                   {"version", r.version},
                   {"state", r.state},
                   {"reason", r.reason},
                   {"waves_started", r.waves_started},
                   {"waves_planned", r.waves_planned},
                   {"started_at", when(r.started_at)},
                   {"ended_at", when(r.ended_at)}});
  }
  return out;
}

nlohmann::json hosts_json(const std::vector<FleetHost>& hosts) {
  nlohmann::json out = nlohmann::json::array();
  for (const FleetHost& h : hosts) {
    nlohmann::json bundles = nlohmann::json::array();
    for (const HostStatus& b : h.bundles) bundles.push_back(status_json(b));
    nlohmann::json pools = nlohmann::json::array();
    for (const PoolUse& u : h.pools) {
      pools.push_back({{"range", u.range},
                       {"subnet", u.subnet},
                       {"addresses", u.addresses},
                       {"active", u.active ? nlohmann::json(*u.active) : nlohmann::json(nullptr)},
                       {"level", u.level()},
                       {"retired", u.retired},
                       {"bundle", u.bundle},
                       {"version", u.version}});
    }
    out.push_back({{"host", h.name},
                   {"groups", h.groups},
                   {"site", h.site},
                   {"last_heard", when(h.last_heard)},
                   {"bundles", bundles},
                   {"leases", h.leases},
                   {"pools", pools},
                   {"lint", h.lint}});
  }
  return out;
}

nlohmann::json overview_json(const Overview& o) {
  return {{"now", when(o.now)},
          {"rollouts", rollouts_json(o.rollouts)},
          {"focus", o.focus ? rollout_model_json(*o.focus) : nlohmann::json(nullptr)},
          {"hosts", hosts_json(o.hosts)}};
}

nlohmann::json host_page_json(const HostPage& h) {
  nlohmann::json sessions = nlohmann::json::array();
  for (const Store::HostSession& s : h.sessions) {
    nlohmann::json receipts = nlohmann::json::array();
    for (const StoredReceipt& r : s.receipts) {
      receipts.push_back(
          {{"verb", r.verb}, {"at", when(r.at)}, {"line", r.line}, {"host_key", r.host_key}});
    }
    sessions.push_back({{"session", protocol::text::hex64(s.record.session.value)},
                        {"file", s.record.file_name},
                        {"bundle", s.record.bundle},
                        {"version", s.record.version},
                        {"digest", s.record.digest},
                        {"started_at", when(s.record.started_at)},
                        {"ended_at", when(s.ended_at)},
                        {"result", status_json(s.result)},
                        {"receipts", receipts}});
  }
  return {{"host", h.name},
          {"groups", h.groups},
          {"last_heard", when(h.last_heard)},
          {"sessions", sessions}};
}

}  // namespace fleetcast::sender::web
