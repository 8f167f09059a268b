#pragma once
// `fleetcast-sender rollout plan|run`: distribute a bundle once (apply=hold: every host
// receives it, checks it and holds it), then activate it wave by wave (rollout/waves.hpp,
// rollout/activation.hpp) and print the recap.

#include <memory>
#include <optional>

#include "protocol/io/file.hpp"
#include "sender/cli/config.hpp"
#include "sender/cli/push_setup.hpp"
#include "sender/rollout/rollout.hpp"

namespace fleetcast::sender {

// A rollout set up to run on this process's loop: the bundle and inventory (push_setup.hpp),
// its plan (new, or as stored), its record and lock in the store, its sockets, the machine.
// `resume`: a stored rollout to continue; `scheduled`: the id of a scheduled one starting now.
struct LiveRollout {
  LiveRollout(const SendOptions& o, const RolloutOptions& r,
              const std::optional<RolloutRecord>& resume, std::int64_t scheduled,
              const std::vector<std::string>& argv);
  // Writes the --report and returns the exit status (0: every host applied).
  int ended();

  SendOptions o;
  Prepared prep;
  RolloutPlan plan;                         // moved into `rollout`
  std::vector<std::unique_ptr<Host>> gone;  // hosts of a stored plan no longer in the inventory
  std::unique_ptr<Store> store;
  protocol::io::FileLock lock;
  Sockets io;
  protocol::Digest digest{};
  Clock::time_point start;
  std::unique_ptr<Rollout> rollout;

 private:
  void targets_from_plan(protocol::SessionId session);
};

// The rollout `record` of the store, with the command line it was given: resumed, or (a
// scheduled one) started now.
std::unique_ptr<LiveRollout> stored_rollout(const RolloutRecord& record, bool resume);

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
int rollout_request_command(const std::filesystem::path& state, Request what);
// `rollout start`: checks the bundle and the options now, schedules the rollout in the store
// for --at; `serve` starts it then.
int rollout_start_command(const SendOptions& send, const RolloutOptions& rollout,
                          const std::vector<std::string>& argv);
// `serve`: the manager daemon. Until SIGTERM: starts scheduled rollouts when due, and resumes
// running ones whose manager process is gone (one at a time); on SIGTERM the running rollout
// starts no new wave and stays running for the next start.
// `http` ("" for none): the web view's address (web/site.hpp).
int serve_command(const std::filesystem::path& state, const std::string& http);
// `rollout list`: every rollout in the store, newest first.
int rollout_list_command(const std::filesystem::path& state);
// From the store: one rollout's state, waves and hosts, and its recap (exit 1: no such rollout).
int rollout_status_command(const StatusOptions& o);

}  // namespace fleetcast::sender
