#include "sender/lint/lint.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>

#include "sender/lint/dhcpd_conf.hpp"
#include "sender/lint/kea_conf.hpp"

namespace fleetcast::sender::lint {
namespace {

// "2026-11-29 05:12:00 UTC"
std::string utc(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

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
  // Each server's redundancy group of its service, looked up once (nullptr: none).
  std::vector<const RedundancyGroup*> group(servers.size());
  for (std::size_t i = 0; i < servers.size(); ++i) group[i] = group_of(servers[i], groups);
  for (std::size_t i = 0; i < servers.size(); ++i) {
    for (const auto& n : servers[i].model.notes) {
      report.notes.push_back(servers[i].host->name + ": " + n);
    }
    for (std::size_t j = i + 1; j < servers.size(); ++j) {
      const Server& a = servers[i];
      const Server& b = servers[j];
      const bool partners = group[i] != nullptr && group[i] == group[j];
      if (partners || !may_share_a_lan(*a.host, *b.host)) continue;
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
    for (std::size_t i = 0; i < servers.size(); ++i) {
      if (group[i] == &g) members.push_back(&servers[i]);
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

ReportedRuns parse_lease_report(std::string_view message) {
  ReportedRuns out;
  const auto at = message.rfind("leases: ");
  if (at == std::string_view::npos) return out;
  std::string_view rest = message.substr(at + 8);
  std::size_t used = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), out.count);
  if (ec != std::errc()) return out;
  used = static_cast<std::size_t>(end - rest.data());
  rest.remove_prefix(used);
  if (rest.substr(0, 7) != " active") return out;
  rest.remove_prefix(7);
  if (out.count == 0) {
    out.complete = true;
    return out;
  }
  if (rest.substr(0, 2) != " (") return out;
  rest.remove_prefix(2);
  const auto close = rest.find(')');
  if (close == std::string_view::npos) return out;
  rest = rest.substr(0, close);
  out.complete = true;
  while (!rest.empty()) {
    const auto comma = rest.find(", ");
    const std::string_view item = rest.substr(0, comma);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 2);
    if (item == "...") {
      out.complete = false;
      continue;
    }
    const auto dash = item.find('-');
    std::uint32_t lo = 0, hi = 0;
    if (!parse_ipv4(item.substr(0, dash), lo) ||
        !parse_ipv4(dash == std::string_view::npos ? item : item.substr(dash + 1), hi) || hi < lo) {
      out.runs.clear();
      out.complete = false;
      return out;
    }
    out.runs.emplace_back(lo, hi);
  }
  return out;
}

void check_leases(const std::vector<Server>& servers,
                  const std::map<std::string, LeaseReport>& reports, bool keep_old_ranges,
                  Report& report) {
  for (const Server& s : servers) {
    const auto it = reports.find(s.host->name);
    if (it == reports.end()) continue;
    const ReportedRuns reported = parse_lease_report(it->second.message);
    if (!reported.complete) {
      report.notes.push_back(cat({s.host->name, ": its lease report lists only some of its ",
                                  std::to_string(reported.count), " active leases"}));
    }
    // What of each reported run no range of the new configuration covers.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
    for (const Range& r : s.model.ranges) ranges.emplace_back(r.low, r.high);
    std::sort(ranges.begin(), ranges.end());
    std::string left_out;
    for (auto [lo, hi] : reported.runs) {
      std::uint64_t next = lo;  // the first address of the run not known to be covered
      for (const auto& [rlo, rhi] : ranges) {
        if (next > hi) break;
        if (rhi < next) continue;
        if (rlo > next) {
          const std::uint32_t gap_end = std::min<std::uint32_t>(hi, rlo - 1);
          left_out +=
              cat({left_out.empty() ? "" : ", ", format_ipv4(static_cast<std::uint32_t>(next)),
                   gap_end == next ? "" : "-", gap_end == next ? "" : format_ipv4(gap_end)});
        }
        next = std::uint64_t{rhi} + 1;
      }
      if (next <= hi) {
        left_out +=
            cat({left_out.empty() ? "" : ", ", format_ipv4(static_cast<std::uint32_t>(next)),
                 next == hi ? "" : "-", next == hi ? "" : format_ipv4(hi)});
      }
    }
    if (left_out.empty()) continue;
    const bool dhcpd = s.kind == "dhcpd";
    const std::string what =
        cat({s.host->name, " reported ", std::to_string(reported.count), " active lease(s) (",
             utc(it->second.at), "); its new ", "configuration has no range holding ", left_out});
    if (keep_old_ranges) {
      report.notes.push_back(what + (dhcpd ? " (keep-old-ranges: kept as retired pools)"
                                           : " (keep-old-ranges: accepted)"));
    } else {
      report.refusals.push_back(
          what + (dhcpd ? " (dhcpd drops such leases at its next start; keep-old-ranges = yes "
                          "keeps them as retired pools)"
                        : " (Kea keeps them, but their clients lose them at renewal; "
                          "keep-old-ranges = yes accepts that)"));
    }
  }
}

Report lint_bundle_tree(const std::filesystem::path& staging, const std::string& server_kind,
                        const std::string& config, const std::vector<const Host*>& targets,
                        const std::vector<RedundancyGroup>& groups,
                        const std::map<std::string, LeaseReport>& leases, bool keep_old_ranges) {
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
    report.ranges[h->name] = s.model.ranges;
    servers.push_back(std::move(s));
  }
  Report r = lint_servers(servers, groups);
  check_leases(servers, leases, keep_old_ranges, r);
  report.refusals.insert(report.refusals.end(), r.refusals.begin(), r.refusals.end());
  report.notes.insert(report.notes.end(), r.notes.begin(), r.notes.end());
  return report;
}

}  // namespace fleetcast::sender::lint
