#pragma once
// `fleetcast-receiver run`: the event loop around Agent and its three sockets, with the apply
// pipeline on a worker thread.

#include "receiver/cli/config.hpp"

namespace fleetcast::receiver {

int run_command(const RunOptions& options);
// `fleetcast-receiver apply`: the journaled apply pipeline on a local bundle file. Exit 0 when
// applied (or checked, for --dry-run), 1 otherwise; the FIN status and message are printed.
int apply_command(const RunOptions& options);
// `fleetcast-receiver gc`: prunes the state (and spool) directories to the retention limits,
// prints what it freed. Safe beside a running receiver: it touches no unfinished apply and no
// partial reception but the oldest ones.
int gc_command(const RunOptions& options);

}  // namespace fleetcast::receiver
