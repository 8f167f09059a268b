#include "sender/lint/lint.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>

#include "sender/lint/dhcpd_conf.hpp"
#include "sender/lint/kea_conf.hpp"

namespace fleetcast::sender::lint {
namespace {

// Joins the parts (GCC 12 warns, wrongly, about `"literal" + std::string(...)` chains).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out += p;
  return out;
}

std::string_view service_of(const std::string& kind) {
  return kind == "dhcpd" ? "dhcpd" : "kea";
}

const RedundancyGroup* group_of(const Server& a, const std::vector<RedundancyGroup>& groups) {
  for (const RedundancyGroup& g : groups) {
    if (to_string(g.service) != service_of(a.kind)) continue;
    for (const Member& m : g.members) {
      if (m.host == a.host->name) return &g;
    }
  }
  return nullptr;
}

bool partners(const Server& a, const Server& b, const std::vector<RedundancyGroup>& groups) {
  const RedundancyGroup* g = group_of(a, groups);
  return g != nullptr && g == group_of(b, groups);
}

// On one LAN as far as the inventory tells: a common group, or no group at all on both.
bool may_share_a_lan(const Host& a, const Host& b) {
  if (a.groups.empty() && b.groups.empty()) return true;
  for (const std::string& g : a.groups) {
    if (std::find(b.groups.begin(), b.groups.end(), g) != b.groups.end()) return true;
  }
  return false;
}

std::string describe(const Range& r) {
  std::string out = cat({"range ", format_range(r), " in subnet ", r.subnet});
  if (r.line > 0) out += cat({" (line ", std::to_string(r.line), ")"});
  if (r.retired) out += " (retired: deny all clients)";
  return out;
}

using PoolKey = std::tuple<std::uint32_t, std::uint32_t, std::string, std::string, bool>;
std::set<PoolKey> pools_of(const ServerModel& m) {
  std::set<PoolKey> out;
  for (const Range& r : m.ranges) out.emplace(r.low, r.high, r.subnet, r.failover_peer, r.retired);
  return out;
}

std::string describe(const PoolKey& k) {
  Range r{std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k), std::get<4>(k), 0};
  std::string out = cat({"range ", format_range(r), " in subnet ", r.subnet});
  if (!r.failover_peer.empty()) out += " (failover peer \"" + r.failover_peer + "\")";
  if (r.retired) out += " (retired)";
  return out;
}

void same_pools(const Server& a, const Server& b, const std::string& what, Report& report) {
  const auto pa = pools_of(a.model), pb = pools_of(b.model);
  for (const auto& k : pa) {
    if (!pb.count(k)) {
      report.refusals.push_back(what + ": " + a.host->name + " declares " + describe(k) + ", " +
                                b.host->name + " does not");
    }
  }
  for (const auto& k : pb) {
    if (!pa.count(k)) {
      report.refusals.push_back(what + ": " + b.host->name + " declares " + describe(k) + ", " +
                                a.host->name + " does not");
    }
  }
}

void check_failover_pair(const RedundancyGroup& g, const std::vector<const Server*>& members,
                         Report& report) {
  const std::string what = "dhcpd failover pair " + g.name;
  for (const Server* s : members) {
    const auto role = std::find_if(g.members.begin(), g.members.end(), [&](const Member& m) {
                        return m.host == s->host->name;
                      })->role;
    if (s->model.peers.empty()) {
      report.refusals.push_back(what + ": " + s->host->name +
                                "'s configuration declares no failover peer");
      continue;
    }
    for (const FailoverPeer& p : s->model.peers) {
      const std::string at = s->host->name + " (failover peer \"" + p.name + "\", line " +
                             std::to_string(p.line) + ")";
      if (p.role != role) {
        report.refusals.push_back(what + ": " + at + " says " +
                                  (p.role.empty() ? std::string("no role") : p.role) +
                                  ", the inventory says " + role);
      }
      if (p.role == "secondary" && (p.mclt || p.split || p.hba)) {
        std::string which;
        for (const auto& [set, name] :
             {std::pair{p.mclt, "mclt"}, {p.split, "split"}, {p.hba, "hba"}}) {
          if (set) which += cat({which.empty() ? "" : ", ", name});
        }
        report.refusals.push_back(cat({what, ": ", at, ": the secondary declares ", which,
                                       "; only the primary may (dhcpd.conf(5))"}));
      }
    }
  }
  if (members.size() == 2) same_pools(*members[0], *members[1], what, report);
}

}  // namespace

Report lint_servers(const std::vector<Server>& servers,
                    const std::vector<RedundancyGroup>& groups) {
  Report report;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    for (const auto& n : servers[i].model.notes) {
      report.notes.push_back(servers[i].host->name + ": " + n);
    }
    for (std::size_t j = i + 1; j < servers.size(); ++j) {
      const Server& a = servers[i];
      const Server& b = servers[j];
      if (partners(a, b, groups) || !may_share_a_lan(*a.host, *b.host)) continue;
      for (const Range& ra : a.model.ranges) {
        for (const Range& rb : b.model.ranges) {
          const std::uint32_t lo = std::max(ra.low, rb.low), hi = std::min(ra.high, rb.high);
          if (lo > hi) continue;
          const std::string span =
              lo == hi ? format_ipv4(lo) : cat({format_ipv4(lo), "-", format_ipv4(hi)});
          report.refusals.push_back(
              cat({a.host->name, " and ", b.host->name, " would both lend ", span, " (",
                   a.host->name, ": ", describe(ra), "; ", b.host->name, ": ", describe(rb),
                   "); they are not partners in one redundancy group, and no inventory groups "
                   "put them on separate LANs"}));
        }
      }
    }
  }
  for (const RedundancyGroup& g : groups) {
    std::vector<const Server*> members;
    for (const Server& s : servers) {
      if (group_of(s, groups) == &g) members.push_back(&s);
    }
    if (members.size() < 2) continue;
    if (g.service == Service::dhcpd) {
      check_failover_pair(g, members, report);
    } else if (g.service == Service::kea) {
      for (std::size_t k = 1; k < members.size(); ++k) {
        same_pools(*members[0], *members[k], "kea HA group " + g.name, report);
      }
    }
  }
  return report;
}

Report lint_bundle_tree(const std::filesystem::path& staging, const std::string& server_kind,
                        const std::string& config, const std::vector<const Host*>& targets,
                        const std::vector<RedundancyGroup>& groups) {
  Report report;
  std::vector<Server> servers;
  for (const Host* h : targets) {
    std::filesystem::path file = staging / "hosts" / h->name / config;
    if (!std::filesystem::exists(file)) file = staging / config;
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      report.refusals.push_back(h->name + ": the bundle has no " + config + " for it");
      continue;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    Server s{h, server_kind, {}};
    try {
      s.model = server_kind == "dhcpd" ? parse_dhcpd_conf(text) : parse_kea_conf(text);
    } catch (const std::exception& e) {
      // Syntax is the server's own validator's to judge (on the host, with its message).
      report.notes.push_back(cat({h->name, ": ", config, " not checked: ", e.what()}));
      continue;
    }
    servers.push_back(std::move(s));
  }
  Report r = lint_servers(servers, groups);
  report.refusals.insert(report.refusals.end(), r.refusals.begin(), r.refusals.end());
  report.notes.insert(report.notes.end(), r.notes.begin(), r.notes.end());
  return report;
}

}  // namespace fleetcast::sender::lint
