#pragma once
// `fleetcast-sender send` and `inventory add`: the event loop around SenderSession, progress
// display, the per-host table and the JSON report.

#include "sender/cli/config.hpp"

namespace fleetcast::sender {

// Returns the process exit status: 0 only when every targeted host completed.
// A push whose targets include two or more members of a redundancy group (and neither
// --dry-run nor --force) runs as a rollout in turns (rollout_command.hpp, `rollout` from
// parse_command_line): members one at a time, each behind the one before it and the group's
// health gate. `argv` is kept in the store (--state) so that serve or rollout resume continue it.
int send_command(const SendOptions& options, const RolloutOptions& rollout,
                 const std::vector<std::string>& argv);
int inventory_add_command(const Invocation& inv);
int inventory_redundancy_command(const Invocation& inv);
int inventory_list_command(const Invocation& inv);
// `inventory site`: adds or replaces a site (its relay and the hosts behind it).
int inventory_site_command(const Invocation& inv);

}  // namespace fleetcast::sender
