#pragma once
// `fleetcast-receiver run`: the event loop around Agent and its three sockets.

#include "receiver/config.hpp"

namespace fleetcast::receiver {

int run_command(const RunOptions& options);

}  // namespace fleetcast::receiver
