#pragma once
// Runs one update-script phase as a child process: fixed environment, stdin from /dev/null,
// stdout + stderr captured (the tail is kept for the FIN, everything goes to a log file), a
// deadline after which the script's process group gets SIGTERM and, 5 s later, SIGKILL. The
// child dies with the receiver (PR_SET_PDEATHSIG), so a killed receiver leaves no script behind
// to race the rollback its restart performs. Daemons a script starts must detach themselves
// (setsid), as they would under an init system.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace fleetcast::receiver {

struct ScriptResult {
  int exit_code = -1;      // 0..255 when the script exited
  int signal = 0;          // when it was killed by a signal
  bool timed_out = false;  // the deadline passed
  std::string output;      // the last kOutputTail bytes of stdout + stderr
  bool ok() const { return exit_code == 0 && !timed_out; }
  std::string describe() const;  // "exit 1", "killed by signal 9", "timed out after 120 s"
};

inline constexpr std::size_t kOutputTail = 16 * 1024;

// argv[0] is the program path; env entries are "KEY=value". The log file gets all output.
ScriptResult run_script(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        std::chrono::seconds timeout, const std::filesystem::path& log);

}  // namespace fleetcast::receiver
