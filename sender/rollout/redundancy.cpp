#include "sender/rollout/redundancy.hpp"

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

std::vector<const RedundancyGroup*> groups_among(const std::vector<std::string>& targets,
                                                 const std::vector<RedundancyGroup>& groups) {
  std::vector<const RedundancyGroup*> out;
  for (const RedundancyGroup& g : groups) {
    const auto targeted = std::count_if(g.members.begin(), g.members.end(), [&](const Member& m) {
      return std::find(targets.begin(), targets.end(), m.host) != targets.end();
    });
    if (targeted >= 2) out.push_back(&g);
  }
  return out;
}

std::vector<Amount> turn_steps(const std::vector<std::string>& targets,
                               const std::vector<RedundancyGroup>& groups) {
  const auto grouped = groups_among(targets, groups);
  if (grouped.empty()) return {};
  // A host's turn: its place among its group's targeted members, in rollout order.
  std::vector<std::size_t> turn(targets.size(), 0);
  for (const RedundancyGroup* g : grouped) {
    std::size_t k = 0;
    for (const Member& m : g->rollout_order()) {
      const auto it = std::find(targets.begin(), targets.end(), m.host);
      if (it == targets.end()) continue;
      auto& t = turn[static_cast<std::size_t>(it - targets.begin())];
      t = std::max(t, k++);
    }
  }
  const std::size_t last = *std::max_element(turn.begin(), turn.end());
  std::vector<Amount> steps;
  unsigned hosts = 0;
  for (std::size_t k = 0; k <= last; ++k) {
    hosts += static_cast<unsigned>(std::count(turn.begin(), turn.end(), k));
    steps.push_back(Amount{hosts, false});
  }
  return steps;
}

RedundantPlan plan_redundant_waves(const std::vector<Amount>& steps,
                                   const std::vector<std::string>& targets,
                                   const std::vector<RedundancyGroup>& groups) {
  RedundantPlan plan;
  const std::size_t n = targets.size();
  plan.before.resize(n);
  auto index_of = [&](const std::string& host) -> std::optional<std::size_t> {
    const auto it = std::find(targets.begin(), targets.end(), host);
    if (it == targets.end()) return std::nullopt;
    return static_cast<std::size_t>(it - targets.begin());
  };
  // Each group's targeted members in rollout order (a group with one targeted member puts no
  // constraint on this rollout), and each host's rank: members that go first come first.
  struct Chain {
    const RedundancyGroup* group;
    std::vector<std::pair<std::size_t, std::string>> members;  // target index, role
  };
  std::vector<Chain> chains;
  std::vector<std::size_t> rank(n, 0);
  for (const RedundancyGroup& g : groups) {
    Chain c{&g, {}};
    for (const Member& m : g.rollout_order()) {
      if (auto i = index_of(m.host)) c.members.emplace_back(*i, m.role);
    }
    if (c.members.size() < 2) continue;
    for (std::size_t k = 0; k < c.members.size(); ++k) {
      rank[c.members[k].first] = std::max(rank[c.members[k].first], k);
    }
    chains.push_back(std::move(c));
  }
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return rank[a] < rank[b]; });
  std::vector<std::size_t> wave_of(n, 0);
  const auto base = plan_waves(steps, n);
  for (std::size_t w = 0; w < base.size(); ++w) {
    for (std::size_t slot : base[w]) wave_of[order[slot]] = w;
  }
  // Later members move to the wave after their predecessor's (moves only go later: bounded).
  const std::size_t wave_count = base.size();
  bool moved = true;
  for (std::size_t pass = 0; moved && pass <= n; ++pass) {
    moved = false;
    for (const Chain& c : chains) {
      for (std::size_t k = 1; k < c.members.size(); ++k) {
        const auto [prev, prev_role] = c.members[k - 1];
        const auto [host, role] = c.members[k];
        if (wave_of[host] > wave_of[prev] || wave_of[prev] + 1 >= wave_count) continue;
        plan.notes.push_back(targets[host] + " (" + role + " of " + c.group->name +
                             ") moved to wave " + std::to_string(wave_of[prev] + 2) + ", after " +
                             targets[prev] + " (" + prev_role + ")");
        wave_of[host] = wave_of[prev] + 1;
        moved = true;
      }
    }
  }
  for (const Chain& c : chains) {
    for (std::size_t k = 1; k < c.members.size(); ++k) {
      const auto [prev, prev_role] = c.members[k - 1];
      const auto [host, role] = c.members[k];
      const std::string pair = std::string(to_string(c.group->service)) + " group " +
                               c.group->name + ": " + targets[host] + " (" + role + ")";
      if (wave_of[host] <= wave_of[prev]) {
        plan.violations.push_back(pair + " would be in wave " + std::to_string(wave_of[host] + 1) +
                                  " with or before " + targets[prev] + " (" + prev_role +
                                  "); give --waves one more step");
        continue;
      }
      plan.before[host].push_back(
          {prev, pair + " waits for " + targets[prev] + " (" + prev_role + ") to apply"});
    }
  }
  plan.waves.assign(wave_count, {});
  for (std::size_t i : order) plan.waves[wave_of[i]].push_back(i);
  std::erase_if(plan.waves, [](const auto& w) { return w.empty(); });
  return plan;
}

}  // namespace fleetcast::sender
