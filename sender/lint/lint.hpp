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
// Notes (not refusals) say what the lint could not see, e.g. an include of a host file.

#include <filesystem>
#include <string>
#include <vector>

#include "sender/inventory.hpp"
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
  bool ok() const { return refusals.empty(); }
};

Report lint_servers(const std::vector<Server>& servers, const std::vector<RedundancyGroup>& groups);

// The configuration file (`config` of the bundle) of each target, from the extracted bundle
// directory `staging`, parsed. One that does not parse is a note, not a refusal: its host's
// server validates it in check and rejects it with its own message.
Report lint_bundle_tree(const std::filesystem::path& staging, const std::string& server_kind,
                        const std::string& config, const std::vector<const Host*>& targets,
                        const std::vector<RedundancyGroup>& groups);

}  // namespace fleetcast::sender::lint
