#pragma once
// The clocks, by type (reading them is protocol/io/clock.hpp's): `Clock`, monotonic, for every
// timer and deadline of the loop (sessions, the agent, the rollout get `now` passed in), and
// `SysSeconds`, the wall clock in whole seconds (a command's time, a maintenance window, what the
// stores record).

#include <chrono>

namespace fleetcast {

using Clock = std::chrono::steady_clock;
using SysSeconds = std::chrono::sys_seconds;

}  // namespace fleetcast
