#pragma once
// `fleetcast-sender send` and `inventory add`: the event loop around SenderSession, progress
// display, the per-host table and the JSON report.

#include "sender/config.hpp"

namespace fleetcast::sender {

// Returns the process exit status: 0 only when every targeted host completed.
int send_command(const SendOptions& options);
int inventory_add_command(const Invocation& inv);
int inventory_redundancy_command(const Invocation& inv);
int inventory_list_command(const Invocation& inv);

}  // namespace fleetcast::sender
