#pragma once
// `fleetcast-receiver run`: the event loop around Agent and its three sockets, with the apply
// pipeline on a worker thread.

#include "receiver/config.hpp"

namespace fleetcast::receiver {

int run_command(const RunOptions& options);
// `fleetcast-receiver apply`: the journaled apply pipeline on a local bundle file. Exit 0 when
// applied (or checked, for --dry-run), 1 otherwise; the FIN status and message are printed.
int apply_command(const RunOptions& options);

}  // namespace fleetcast::receiver
