#pragma once
// Redundancy groups (a dhcpd failover pair, two Kea servers with the HA hook, a CARP or VRRP
// group): the fleet's model of servers that stand in for each other, as the inventory declares
// them (inventory.hpp). What a rollout does with them is rollout/redundancy.hpp.
//
// Inventory line:   redundancy <group> <service> <host>=<role> <host>=<role>...
//   dhcpd: primary, secondary (exactly these two: dhcpd failover is a pair)
//   kea:   primary, and secondary (load balancing) or standby (hot standby); backup servers
//   carp, vrrp: one master, one or more backups
// Pure: no files, no clock.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetcast::sender {

enum class Service { dhcpd, kea, carp, vrrp };
std::optional<Service> service_from(std::string_view name);
std::string_view to_string(Service s);

struct Member {
  std::string host;
  std::string role;
};

struct RedundancyGroup {
  std::string name;
  Service service = Service::dhcpd;
  std::vector<Member> members;  // as written

  // Empty, or what is wrong with the group on its own (roles, member count).
  std::string problem() const;
  // The members in the order a rollout touches them: those that do not serve first (in the
  // order written), the primary / master last.
  std::vector<Member> rollout_order() const;
  std::string describe() const;  // "dhcpd dhcp-a: r2 (secondary) then r1 (primary)"
};

// Empty, or the first problem of a set of groups: a group's own problem, a duplicate name, a
// host in two groups of the same service, a member that is not in `hosts`.
std::string check_groups(const std::vector<RedundancyGroup>& groups,
                         const std::vector<std::string>& hosts);

}  // namespace fleetcast::sender
