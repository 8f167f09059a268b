#pragma once
// A rollout's plan, typed: its hosts (by name, in the order given: every index below is into
// `hosts`), its waves, each host's maintenance windows and the redundancy members that must have
// applied before it, and its limits. Made once from the options, the inventory and the bundle's
// targets (`make_plan`); stored in the receipt store as JSON when the rollout begins and read
// back on resume, so a resumed rollout activates exactly the waves it stored, whatever the
// inventory says by then. Pure: no files, no clock.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sender/fleet/window.hpp"
#include "sender/rollout/redundancy.hpp"
#include "sender/rollout/waves.hpp"

namespace fleetcast::sender {

class Inventory;
struct Host;

// rollout plan|run|start, and push in turns: one distribution (apply=hold), then activation in
// waves.
struct RolloutOptions {
  std::vector<Amount> waves{{1, false}, {10, true}, {50, true}, {100, true}};
  std::string waves_text = "1,10%,50%,100%";   // as given (for the record)
  Amount max_fail{0, false};                   // failures tolerated (waves.hpp: exceeding halts)
  std::chrono::seconds soak{0};                // pause after a wave's last result
  std::chrono::seconds activate_timeout{600};  // per wave, for every result
  // Maintenance windows (fleet/window.hpp): for every host, and per inventory group (these
  // replace the inventory's window of that group). A host is activated only inside all of its.
  std::vector<std::string> windows;
  std::map<std::string, std::string> group_windows;
  std::int64_t start_at = 0;  // rollout start --at, seconds since the epoch
  bool force = false;         // keep waves that break redundancy rules (rollout/redundancy.hpp)
  // push to members of a redundancy group: one wave per turn (turn_steps), not `waves`.
  bool in_turns = false;
};

struct RolloutPlan {
  std::vector<std::string> hosts;
  std::vector<std::vector<std::size_t>> waves;
  std::vector<WindowSet> windows;                          // per host; empty set: any time
  std::vector<std::vector<RedundantPlan::Before>> before;  // per host
  Amount max_fail{0, false};
  std::string waves_text;  // the --waves given (for the record)
  std::chrono::seconds soak{0};
  std::chrono::seconds activate_timeout{600};
  std::vector<std::string> notes;       // hosts moved by the redundancy rules, and why
  std::vector<std::string> violations;  // rules kept only because of --force
  bool forced = false;
  // The site each host is behind (fleet/site.hpp), as "SITE (relay HOST)"; hosts of no site
  // are not listed.
  std::map<std::string, std::string> sites;
};

// The plan for `targets` (names, in order): the waves of `options` (or one per turn of the
// redundancy groups with `in_turns`), with the inventory's redundancy groups and windows (a
// --window @GROUP= replaces the inventory's window of that group). Throws, naming the rules,
// when the waves break redundancy rules and `options.force` is not set.
RolloutPlan make_plan(const std::vector<const Host*>& targets, const Inventory& inventory,
                      const RolloutOptions& options);

// The stored form (JSON text) and back; nullopt (and `error`) when the text is not a plan.
std::string to_json(const RolloutPlan& plan);
std::optional<RolloutPlan> plan_from_json(const std::string& text, std::string* error);

}  // namespace fleetcast::sender
