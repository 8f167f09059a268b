#pragma once
// Redundancy groups (a dhcpd failover pair, two Kea servers with the HA hook, a CARP or VRRP
// group) and what they mean for a rollout's waves: two members of one group are never in the
// same wave, the member that does not serve first (secondary, standby, backup) goes first, and
// a member is activated only once every member before it applied (its FIN `applied`, which
// includes the group's health gate run by the update script on the host).
//
// Inventory line (inventory.hpp):   redundancy <group> <service> <host>=<role> <host>=<role>...
//   dhcpd: primary, secondary (exactly these two: dhcpd failover is a pair)
//   kea:   primary, and secondary (load balancing) or standby (hot standby); backup servers
//   carp, vrrp: one master, one or more backups
// Pure: no files, no clock.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sender/fleet/redundancy_group.hpp"
#include "sender/rollout/waves.hpp"

namespace fleetcast::sender {

// The waves of a rollout to `targets` (host names, in the order given) with the redundancy
// rules applied: members of a group are ordered (rollout_order) and placed in strictly later
// waves, moving a member to the wave after its predecessor's when the steps put them together.
struct RedundantPlan {
  std::vector<std::vector<std::size_t>> waves;  // indices into targets
  std::vector<std::string> notes;               // what was moved, and why
  std::vector<std::string> violations;          // rules the waves cannot keep (too few waves)
  // For each target: the members that must have applied before it is activated, with why.
  struct Before {
    std::size_t host;
    std::string why;
  };
  std::vector<std::vector<Before>> before;
};
// The groups with two or more members among `targets`: those a push applies in turns.
std::vector<const RedundancyGroup*> groups_among(const std::vector<std::string>& targets,
                                                 const std::vector<RedundancyGroup>& groups);

// The steps (cumulative host counts, for plan_redundant_waves) of a push that applies a
// group's members in turns: every target that is nobody's later member in the first wave, each
// group's next member in the next, and so on. Empty when no group has two members among
// `targets` (then a push applies everywhere at once).
std::vector<Amount> turn_steps(const std::vector<std::string>& targets,
                               const std::vector<RedundancyGroup>& groups);

RedundantPlan plan_redundant_waves(const std::vector<Amount>& steps,
                                   const std::vector<std::string>& targets,
                                   const std::vector<RedundancyGroup>& groups);

}  // namespace fleetcast::sender
