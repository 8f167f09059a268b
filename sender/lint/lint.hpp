#pragma once
// The DHCP lint (seed 000: no address may be lent by two servers), run on the manager before a
// dhcp-server bundle is sent (push, rollout plan / run / start) and alone (`bundle lint`). It
// reads every target host's configuration as that host would apply it (hosts/<host>/<config>
// over <config>), parses it (dhcpd_conf.hpp, kea_conf.hpp) and refuses, naming the servers,
// subnets and ranges, when:
//
// * two servers that are not partners (not in one redundancy group of their service) lend
//   overlapping ranges. Servers on separate LANs may reuse the same private addresses: only
//   servers that share an inventory group, or that both have none, are compared;
// * the two peers of a dhcpd failover pair declare different pools (dhcpd requires the same
//   pool declarations on both), their failover declaration is missing, its role is not the one
//   the inventory gives, or `mclt`, `split` or `hba` appear on the secondary;
// * the members of a Kea HA group serve different pools.
//
// * a server's new ranges no longer cover leases it reported active (the last line of a
//   dhcp-server FIN, "leases: N active (runs)", kept in the receipt store), unless the bundle
//   says keep-old-ranges = yes (dhcpd then keeps them as retired pools).
//
// Notes (not refusals) say what the lint could not see, e.g. an include of a host file.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sender/fleet/inventory.hpp"
#include "sender/lint/dhcp_model.hpp"

namespace fleetcast::sender::lint {

struct Server {
  const Host* host = nullptr;
  std::string kind;  // "dhcpd" or "kea4" (the bundle's server =)
  ServerModel model;
};

struct Report {
  std::vector<std::string> refusals;
  std::vector<std::string> notes;
  // lint_bundle_tree: per host whose configuration parsed, the ranges it lends (the web view
  // shows how full they are, from the leases its FINs report).
  std::map<std::string, std::vector<Range>> ranges;
  bool ok() const { return refusals.empty(); }
};

Report lint_servers(const std::vector<Server>& servers, const std::vector<RedundancyGroup>& groups);

// A host's report of its active leases (the FIN message that carries it, and when it came).
struct LeaseReport {
  std::string message;
  std::int64_t at = 0;  // seconds since the epoch
};
// The runs of "leases: N active (A-B, C, ...)" in a message; `complete` is false when the host
// listed only the first runs ("...") or the message has none.
struct ReportedRuns {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  std::size_t count = 0;
  bool complete = false;
};
ReportedRuns parse_lease_report(std::string_view message);
// Refusals for servers whose ranges leave reported active leases out (see the top).
void check_leases(const std::vector<Server>& servers,
                  const std::map<std::string, LeaseReport>& reports, bool keep_old_ranges,
                  Report& report);

// The configuration file (`config` of the bundle) of each target, from the extracted bundle
// directory `staging`, parsed. One that does not parse is a note, not a refusal: its host's
// server validates it in check and rejects it with its own message.
Report lint_bundle_tree(const std::filesystem::path& staging, const std::string& server_kind,
                        const std::string& config, const std::vector<const Host*>& targets,
                        const std::vector<RedundancyGroup>& groups,
                        const std::map<std::string, LeaseReport>& leases = {},
                        bool keep_old_ranges = false);

}  // namespace fleetcast::sender::lint
