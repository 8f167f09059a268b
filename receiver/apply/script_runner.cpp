#include "receiver/apply/script_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fleetcast::receiver {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(5);

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

[[noreturn]] void child(int out_fd, const std::vector<std::string>& argv,
                        const std::vector<std::string>& env, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the receiver died before prctl took effect
  const int null = ::open("/dev/null", O_RDONLY);
  ::dup2(null, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  for (int fd = 3; fd < 1024; ++fd) ::close(fd);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  auto a = c_strings(argv);
  auto e = c_strings(env);
  ::execve(a[0], a.data(), e.data());
  const std::string msg = std::string("cannot run ") + argv[0] + ": " + std::strerror(errno) + "\n";
  (void)!::write(1, msg.data(), msg.size());
  ::_exit(126);
}

}  // namespace

std::string ScriptResult::describe() const {
  if (timed_out) return "timed out";
  if (signal) return "killed by signal " + std::to_string(signal);
  return "exit " + std::to_string(exit_code);
}

ScriptResult run_script(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                        std::chrono::seconds timeout, const std::filesystem::path& log) {
  if (argv.empty()) throw std::invalid_argument("run_script: empty argv");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    if (log_fd >= 0) ::close(log_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) child(fds[1], argv, env, parent);
  ::close(fds[1]);
  ::setpgid(pid, pid);  // also in the child: whichever runs first

  ScriptResult r;
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  auto deadline = SteadyClock::now() + timeout;
  bool term_sent = false;
  int status = 0;
  bool exited = false;
  char buf[4096];
  auto drain = [&] {
    for (;;) {
      const ssize_t got = ::read(fds[0], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return got == 0;  // true: every writer closed
      if (log_fd >= 0) (void)!::write(log_fd, buf, static_cast<std::size_t>(got));
      r.output.append(buf, static_cast<std::size_t>(got));
      if (r.output.size() > 2 * kOutputTail) r.output.erase(0, r.output.size() - kOutputTail);
    }
  };
  // Until the script itself exits (a daemon it started may keep the pipe open: not waited for).
  while (!exited) {
    const auto now = SteadyClock::now();
    if (now >= deadline) {
      ::kill(-pid, term_sent ? SIGKILL : SIGTERM);
      r.timed_out = true;
      term_sent = true;
      deadline = now + kKillGrace;
    }
    pollfd p{fds[0], POLLIN, 0};
    (void)::poll(&p, 1, 50);
    drain();
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    exited = w == pid || (w < 0 && errno != EINTR);
  }
  drain();
  ::close(fds[0]);
  if (log_fd >= 0) ::close(log_fd);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  if (r.output.size() > kOutputTail) r.output.erase(0, r.output.size() - kOutputTail);
  return r;
}

}  // namespace fleetcast::receiver
