#pragma once
// Waiting for sockets with a timeout to the microsecond. A loop that paces packets is often
// woken less than a millisecond before its next send: poll()'s millisecond timeout, rounded
// down, would make it spin (a core at 100 % for a few hundred Mbit/s), rounded up it would
// send in bursts of a millisecond or more at low rates.

#include <poll.h>

#include <chrono>
#include <span>

namespace fleetcast::protocol::io {

// ppoll on `fds` for `wait` (clamped to 0..most); its result (-1 with errno on failure).
int wait_readable(std::span<pollfd> fds, std::chrono::nanoseconds wait,
                  std::chrono::nanoseconds most);

}  // namespace fleetcast::protocol::io
