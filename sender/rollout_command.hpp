#pragma once
// `fleetcast-sender rollout plan|run`: distribute a bundle once (apply=hold: every host
// receives it, checks it and holds it), then activate it wave by wave (rollout/waves.hpp,
// rollout/activation.hpp) and print the recap.

#include "sender/config.hpp"

namespace fleetcast::sender {

// Prints the waves and their hosts; changes nothing. Exit 0.
int rollout_plan_command(const SendOptions& send, const RolloutOptions& rollout);
// Exit 0 only when every targeted host applied the bundle (not halted, nobody failed).
// `argv` is kept in the receipt store (with --state) for rollout_resume_command.
int rollout_run_command(const SendOptions& send, const RolloutOptions& rollout,
                        const std::vector<std::string>& argv);
// Continues the newest rollout in the store that a killed manager left running, or that the
// operator paused.
int rollout_resume_command(const std::filesystem::path& state);
// `rollout pause|abort`: asks the running manager (through the store) to start no new wave.
int rollout_request_command(const std::filesystem::path& state, const std::string& what);
// `rollout start`: checks the bundle and the options now, schedules the rollout in the store
// for --at; `serve` starts it then.
int rollout_start_command(const SendOptions& send, const RolloutOptions& rollout,
                          const std::vector<std::string>& argv);
// `serve`: the manager daemon. Until SIGTERM: starts scheduled rollouts when due, and resumes
// running ones whose manager process is gone (one at a time); on SIGTERM the running rollout
// starts no new wave and stays running for the next start.
int serve_command(const std::filesystem::path& state);
// `rollout list`: every rollout in the store, newest first.
int rollout_list_command(const std::filesystem::path& state);
// From the store: one rollout's state, waves and hosts, and its recap (exit 1: no such rollout).
int rollout_status_command(const StatusOptions& o);

}  // namespace fleetcast::sender
