#include "sender/fleet/redundancy_group.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace fleetcast::sender {
namespace {

// 0: touched first (does not serve, or serves second); 1: the primary / master, touched last.
std::optional<int> role_rank(Service s, std::string_view role) {
  switch (s) {
    case Service::dhcpd:
      if (role == "secondary") return 0;
      if (role == "primary") return 1;
      break;
    case Service::kea:
      if (role == "secondary" || role == "standby" || role == "backup") return 0;
      if (role == "primary") return 1;
      break;
    case Service::carp:
    case Service::vrrp:
      if (role == "backup") return 0;
      if (role == "master") return 1;
      break;
  }
  return std::nullopt;
}

std::string_view roles_of(Service s) {
  switch (s) {
    case Service::dhcpd:
      return "primary, secondary";
    case Service::kea:
      return "primary, secondary, standby, backup";
    case Service::carp:
    case Service::vrrp:
      return "master, backup";
  }
  return "";
}

}  // namespace

std::optional<Service> service_from(std::string_view name) {
  if (name == "dhcpd") return Service::dhcpd;
  if (name == "kea") return Service::kea;
  if (name == "carp") return Service::carp;
  if (name == "vrrp") return Service::vrrp;
  return std::nullopt;
}

std::string_view to_string(Service s) {
  switch (s) {
    case Service::dhcpd:
      return "dhcpd";
    case Service::kea:
      return "kea";
    case Service::carp:
      return "carp";
    case Service::vrrp:
      return "vrrp";
  }
  return "?";
}

std::string RedundancyGroup::problem() const {
  const std::string where = std::string(to_string(service)) + " group " + name + ": ";
  if (members.size() < 2) {
    return where + "has " + std::to_string(members.size()) +
           " member(s); a redundancy group needs at least two";
  }
  int last = 0;  // members that serve first: the primary / master
  std::set<std::string> seen;
  for (const Member& m : members) {
    if (!seen.insert(m.host).second) return where + m.host + " is listed twice";
    const auto rank = role_rank(service, m.role);
    if (!rank) {
      return where + m.host + " has role '" + m.role + "'; " + std::string(to_string(service)) +
             " roles are " + std::string(roles_of(service));
    }
    if (*rank == 1) ++last;
  }
  const std::string top =
      service == Service::carp || service == Service::vrrp ? "master" : "primary";
  if (last != 1) return where + "needs exactly one " + top + ", has " + std::to_string(last);
  if (service == Service::dhcpd && members.size() != 2) {
    return where + "dhcpd failover is a pair: one primary and one secondary";
  }
  return "";
}

std::vector<Member> RedundancyGroup::rollout_order() const {
  std::vector<Member> out = members;
  std::stable_sort(out.begin(), out.end(), [&](const Member& a, const Member& b) {
    return role_rank(service, a.role).value_or(0) < role_rank(service, b.role).value_or(0);
  });
  return out;
}

std::string RedundancyGroup::describe() const {
  std::string out = std::string(to_string(service)) + " " + name + ": ";
  bool first = true;
  for (const Member& m : rollout_order()) {
    out += (first ? "" : " then ") + m.host + " (" + m.role + ")";
    first = false;
  }
  return out;
}

std::string check_groups(const std::vector<RedundancyGroup>& groups,
                         const std::vector<std::string>& hosts) {
  std::set<std::string> names;
  std::map<std::pair<Service, std::string>, std::string> member_of;  // (service, host) -> group
  for (const RedundancyGroup& g : groups) {
    if (auto p = g.problem(); !p.empty()) return p;
    if (!names.insert(g.name).second) return "redundancy group " + g.name + " is defined twice";
    for (const Member& m : g.members) {
      if (std::find(hosts.begin(), hosts.end(), m.host) == hosts.end()) {
        return std::string(to_string(g.service)) + " group " + g.name + ": " + m.host +
               " is not an inventory host";
      }
      const auto [it, fresh] = member_of.emplace(std::pair(g.service, m.host), g.name);
      if (!fresh) {
        return m.host + " is in two " + std::string(to_string(g.service)) +
               " groups: " + it->second + " and " + g.name;
      }
    }
  }
  return "";
}

}  // namespace fleetcast::sender
