#include "sender/rollout/redundancy.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace fleetcast::sender {

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
