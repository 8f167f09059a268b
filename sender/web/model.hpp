#pragma once
// What the web view shows, read from the receipt store (opened read-only) and the serving
// manager's live counters: one model, three renderings (pages.cpp: HTML, api.cpp: JSON,
// metrics.cpp: Prometheus text), so the page, the API and the metrics never disagree.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sender/store/store.hpp"

namespace fleetcast::sender::web {

// One host of a rollout, as a cell of its wave: `state` is what the page colours.
//   pending     nothing heard yet, or receiving (its wave not over)
//   held        received and checked, waits for its wave
//   activating  its wave started, no result yet
//   applied | rolled-back | failed | denied
//   silent      its wave (or the rollout) ended without a word from it
struct HostCell {
  std::string host;
  std::string state;
  std::string status;  // what it said last (FIN status, "denied", "no answer", ...)
  std::string reason;  // the FIN's or DENY's text, as the host signed it
  std::string site;    // "" when the plan puts it behind no site
  std::int64_t at = 0;
};

struct WaveModel {
  std::size_t number = 0;  // 1-based
  std::int64_t started_at = 0, ended_at = 0;
  std::vector<HostCell> hosts;
};

struct RolloutModel {
  RolloutView view;
  std::vector<WaveModel> waves;               // planned (from the stored plan) and started ones
  std::vector<HostCell> unplaced;             // hosts of the rollout in no wave (older rollouts)
  std::map<std::string, std::size_t> counts;  // by cell state
  std::vector<std::string> recap;             // the RECAP lines `rollout status` prints
  // Redundancy: "b waits for a: why" from the plan, with both hosts' states.
  struct Before {
    std::string host, host_state, after, after_state, why;
  };
  std::vector<Before> redundancy;
  std::vector<std::string> notes;  // the plan's notes (hosts moved by the redundancy rules)
  bool live() const { return view.state == "running" || view.state == "scheduled"; }
};

// A DHCP server's pool and how full it is: its addresses, and the active leases its newest FIN
// reported in it (Stork's thresholds: 80 % warns, 90 % is critical).
struct PoolUse {
  std::string range;   // "192.168.11.100-192.168.11.199"
  std::string subnet;  // "192.168.11.0/24"
  std::uint64_t addresses = 0;
  std::optional<std::uint64_t> active;  // unknown when the FIN listed only some of its leases
  bool retired = false;                 // lends nothing new (dhcpd: deny all clients)
  std::string bundle;                   // of the configuration these pools are from
  std::uint64_t version = 0;
  // "ok", "warning" (>= 80 %), "critical" (>= 90 %), "unknown"
  std::string level() const;
};

struct FleetHost {
  std::string name;
  std::vector<std::string> groups;
  std::string site;
  std::int64_t last_heard = 0;
  std::vector<HostStatus> bundles;  // the latest result per bundle
  std::string leases;               // the newest "leases: N active (...)" a FIN reported
  std::vector<PoolUse> pools;       // of the newest dhcp-server bundle sent to it
  std::vector<std::string> lint;    // what the DHCP lint said of it then
};

struct RolloutSummary {
  std::int64_t id = 0;
  std::string bundle, state, reason;
  std::uint64_t version = 0;
  std::size_t waves_started = 0, waves_planned = 0;
  std::int64_t started_at = 0, ended_at = 0;
};

struct Overview {
  std::int64_t now = 0;
  std::vector<RolloutSummary> rollouts;  // newest first
  std::optional<RolloutModel> focus;     // the running rollout, else the newest
  std::vector<FleetHost> hosts;
};

struct HostPage {
  std::string name;
  std::vector<std::string> groups;
  std::int64_t last_heard = 0;
  std::vector<Store::HostSession> sessions;  // newest first
};

// The cell state of a host whose latest answer is `status`, in a wave started/ended as given.
std::string cell_state(const std::string& status, bool wave_started, bool wave_ended,
                       bool rollout_ended);

RolloutModel rollout_model(const RolloutView& view);
// `pools` with the active leases of `leases` (a FIN's text) counted in each.
std::vector<PoolUse> pool_use(const DhcpPools& pools, const std::string& leases);
Overview overview(const Store& store, std::int64_t now);
// nullopt when the store knows no such host.
std::optional<HostPage> host_page(const Store& store, const std::string& name);

}  // namespace fleetcast::sender::web
