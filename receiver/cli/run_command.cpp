#include "receiver/cli/run_command.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <random>

#include "protocol/io/file.hpp"
#include "protocol/io/key_file.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/io/udp_socket.hpp"
#include "receiver/apply/apply.hpp"
#include "receiver/reception/agent.hpp"

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

volatile sig_atomic_t g_stop = 0;
constexpr timespec kCoalesce{0, 1'000'000};  // 1 ms
void on_signal(int) {
  g_stop = 1;
}

void make_private_dir(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
}

// TEST ONLY: Gilbert-Elliott two-state drop model on the data input (off unless configured).
class DropModel {
 public:
  DropModel(const RunOptions& o, std::uint64_t seed)
      : enabled_(o.ge_good_to_bad > 0 && o.ge_loss_bad > 0),
        good_to_bad_(o.ge_good_to_bad),
        bad_to_good_(o.ge_bad_to_good),
        loss_bad_(o.ge_loss_bad),
        rng_(seed) {}
  bool drop() {
    if (!enabled_) return false;
    bad_ = bad_ ? u_(rng_) >= bad_to_good_ : u_(rng_) < good_to_bad_;
    const bool lost = bad_ && u_(rng_) < loss_bad_;
    if (lost) ++dropped_;
    return lost;
  }
  std::uint64_t dropped() const { return dropped_; }

 private:
  bool enabled_;
  double good_to_bad_, bad_to_good_, loss_bad_;
  bool bad_ = false;
  std::uint64_t dropped_ = 0;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> u_{0.0, 1.0};
};

void print_counters(const Agent& agent) {
  if (const Assembler* a = agent.current()) {
    const auto& c = a->counters();
    const AgentCounters& g = agent.counters();
    log::emit(log::info("FC2104", "counters")
                  .with("bundle", a->update().name)
                  .with("lacked_at_open", c.lacked_at_open)
                  .with("symbols_received", c.symbols_received)
                  .with("useful", c.symbols_useful)
                  .with("duplicates", c.duplicates)
                  .with("blocks_decoded", c.blocks_decoded)
                  .with("naks_sent", g.naks_sent)
                  .with("auth_chunks", c.auth_chunks)
                  .with("forged", c.forged)
                  .with("unverified", c.unverified)
                  .with("verified_late", c.verified_late)
                  .with("refused", g.refused)
                  .with("stale", g.stale)
                  .with("replays", g.replays)
                  .with("mac_dropped", g.mac_dropped)
                  .with("loss_reports", g.loss_reports_sent)
                  .with("verifications", g.verifications));
  }
}

// The receiver's own files: no config-files, backup or restore bundle may name them.
TargetPolicy target_policy(const RunOptions& o) {
  TargetPolicy t;
  t.allowed = o.allow_targets;
  auto add = [&](const std::filesystem::path& path, const char* what) {
    if (!path.empty()) t.protected_paths.push_back({path, what});
  };
  add(o.key, "the receiver's own key");
  if (!o.key.empty())
    add(std::filesystem::path(o.key).replace_extension(".pub"), "the receiver's own public key");
  add(o.manager_pub, "the trusted manager key");
  add(o.config_file, "the receiver's configuration");
  add(o.scripts, "the receiver's update scripts");
  add(o.state, "the receiver's state directory");
  add(o.spool, "the receiver's spool");
  return t;
}

RetentionLimits retention(const RunOptions& o) {
  return {o.keep_applies, o.keep_backups, o.keep_spool};
}

ApplyConfig make_apply_config(const RunOptions& o, const p::PublicKey& manager) {
  ApplyConfig a;
  a.host_name = o.name;
  a.groups = o.groups;
  a.manager = manager;
  a.state = o.state;
  a.scripts = o.scripts;
  a.kinds = o.kinds;
  a.names = o.names;
  a.host_facts = o.host_facts;
  a.limits = {o.max_unpacked, o.max_files};
  a.targets = target_policy(o);
  a.retention = retention(o);
  if (!o.key.empty() && std::filesystem::exists(o.key)) a.own_key = p::io::load_secret_key(o.key);
  return a;
}

}  // namespace

int apply_command(const RunOptions& o) {
  make_private_dir(o.state);
  const p::PublicKey manager = p::io::load_public_key(o.manager_pub).key;
  Applier applier(make_apply_config(o, manager), log::emit);
  for (const auto& r : applier.recover()) {
    std::printf("recovered %s: %s: %s\n", r.record.file_name.c_str(),
                std::string(p::to_string(r.status)).c_str(), r.message.c_str());
  }
  ApplyJob job;
  job.bundle = o.bundle;
  job.file_name = o.bundle.filename().string();
  job.digest = p::io::InputFile::open(o.bundle)->digest();
  job.mode = o.dry_run ? p::ApplyMode::dry_run : p::ApplyMode::now;
  const ApplyOutcome r = applier.apply(job).value();  // a local apply always has an outcome
  std::printf("FIN %s %s version %llu: %s\n", std::string(p::to_string(r.status)).c_str(),
              r.record.name.empty() ? job.file_name.c_str() : r.record.name.c_str(),
              static_cast<unsigned long long>(r.record.version), r.message.c_str());
  const bool ok =
      r.status == p::FinStatus::applied || (o.dry_run && r.status == p::FinStatus::checked);
  return ok ? 0 : 1;
}

namespace {

void log_freed(std::string_view what, const Freed& f) {
  if (f.files == 0) return;
  log::emit(log::info("FC2301", "retention-freed")
                .with("what", what)
                .with("files", f.files)
                .with("bytes", f.bytes));
}

// The name of the reception a running receiver keeps in <state>/current.update, or "".
std::string recorded_reception(const std::filesystem::path& state) {
  try {
    const auto bytes = p::io::read_file(state / "current.update");
    const auto parsed = p::parse_command(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (parsed) {
      if (const auto* u = std::get_if<p::Update>(&parsed->command)) return u->name;
    }
  } catch (const std::exception&) {
  }
  return "";
}

}  // namespace

int gc_command(const RunOptions& o) {
  const Journal journal(o.state / "apply.db");
  Freed freed = prune_state(o.state, journal, retention(o));
  if (!o.spool.empty()) {
    freed += prune_spool(o.spool, o.state, journal, retention(o), recorded_reception(o.state));
  }
  std::printf("gc: removed %llu file(s), %llu bytes; state now %llu bytes",
              static_cast<unsigned long long>(freed.files),
              static_cast<unsigned long long>(freed.bytes),
              static_cast<unsigned long long>(tree_bytes(o.state)));
  if (!o.spool.empty()) {
    std::printf(", spool %llu bytes", static_cast<unsigned long long>(tree_bytes(o.spool)));
  }
  std::printf("\n");
  return 0;
}

int run_command(const RunOptions& o) {
  AgentConfig cfg;
  cfg.host_name = o.name;
  cfg.groups = o.groups;
  cfg.kinds = o.kinds;
  cfg.max_size = o.max_size;
  cfg.max_clock_skew = o.max_clock_skew;
  cfg.manager = p::io::load_public_key(o.manager_pub).key;
  cfg.spool = o.spool;
  cfg.state = o.state;
  make_private_dir(o.spool);
  make_private_dir(o.state);
  const p::SecretKey key = p::io::load_secret_key(o.key);
  const unsigned ifindex = p::io::interface_index(o.iface);

  p::io::UdpSocket ctrl(o.ctrl_port, ifindex);
  ctrl.join(p::text::parse_address(o.ctrl_group, o.ctrl_port, "ctrl").value());
  // Replies, feedback and the manager's answers: an exclusive socket on this host's address
  // (no other user can bind its port and take the COMPLETE-ACKs), [::] where it has none yet.
  std::array<std::uint8_t, 16> own_address{};
  try {
    own_address = p::io::interface_address(o.iface);
  } catch (const p::io::SocketError&) {
  }
  p::io::UdpSocket unicast(own_address, 0, ifindex);
  std::unique_ptr<p::io::UdpSocket> data;
  std::optional<p::Endpoint> joined;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  std::random_device entropy;
  const std::uint64_t seed = (std::uint64_t{entropy()} << 32) | entropy();
  Agent agent(cfg, key, log::emit, seed);
  // The apply pipeline runs on one worker thread (scripts take seconds; the loop keeps
  // answering). Unfinished applies from before a crash are finished or rolled back first.
  Applier applier(make_apply_config(o, cfg.manager), log::emit);
  // Results of earlier sessions answer a manager's STATUS (status --refresh, rollout resume).
  for (ApplyRecord& r : applier.journal().latest_results(Agent::kMaxFins)) {
    if (!r.status) continue;
    const p::FinStatus status = *r.status;
    agent.remember_result(ApplyOutcome{status, r.message, std::move(r)});
  }
  for (const auto& r : applier.recover()) agent.on_applied(r, Clock::now());
  // The spool is pruned only while no apply runs (the worker owns the journal then).
  auto prune = [&] {
    log_freed("spool",
              prune_spool(o.spool, o.state, applier.journal(), retention(o), agent.receiving()));
  };
  prune();
  std::future<std::optional<ApplyOutcome>> applying;
  DropModel drop(o, seed ^ 0x5eed);
  log::emit(log::info("FC2101", "listening")
                .with("host", o.name)
                .with("iface", o.iface)
                .with("group", o.ctrl_group)
                .with("manager", p::fingerprint(cfg.manager))
                .with("version", FLEETCAST_VERSION));

  std::vector<std::uint8_t> buffer(64 * p::kMaxDataDatagram);
  std::uint64_t completed_reported = 0;
  while (!g_stop) {
    const auto wanted = agent.data_group();
    if (wanted != joined) {
      data.reset();
      if (wanted) {
        data = std::make_unique<p::io::UdpSocket>(wanted->port, ifindex);
        // Deep: a host busy elsewhere (its disk, other processes) falls behind for a while
        // instead of losing, and says so (its backlog, in its loss reports) before it loses.
        // Memory is taken only while packets wait.
        data->set_buffer_sizes(64 << 20);
        // ff3x::/32 is source-specific multicast (RFC 4607): join (manager, group) only.
        const bool ssm = wanted->address[0] == 0xff && (wanted->address[1] >> 4) == 3;
        const auto source = agent.data_source();
        data->join(*wanted, ssm ? &source : nullptr);
      }
      joined = wanted;
    }
    auto now = Clock::now();
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(agent.next_wakeup(now) - now);
    pollfd fds[3] = {
        {ctrl.fd(), POLLIN, 0}, {unicast.fd(), POLLIN, 0}, {data ? data->fd() : -1, POLLIN, 0}};
    if (::poll(fds, 3, static_cast<int>(std::clamp<std::int64_t>(wait.count(), 0, 200))) < 0 &&
        errno != EINTR) {
      log::emit(log::error("FC2105", "poll-failed").with("reason", std::strerror(errno)));
    }
    now = Clock::now();
    // Only sockets poll() reported readable: an idle socket costs no system call per wakeup.
    if (fds[0].revents & POLLIN) {
      for (const auto& r : ctrl.receive(buffer, p::kMaxDataDatagram)) {
        agent.on_ctrl(r.bytes, now, r.from);
      }
    }
    if (fds[1].revents & POLLIN) {
      for (const auto& r : unicast.receive(buffer, p::kMaxDataDatagram))
        agent.on_data(r.bytes, now, r.from);
    }
    if (data && (fds[2].revents & POLLIN)) {
      std::size_t received = 0;
      agent.on_backlog(data->receive_backlog());
      for (int batch = 0; batch < 64; ++batch) {
        const auto got = data->receive(buffer, p::kMaxDataDatagram);
        now = Clock::now();  // per batch: a probe's reading time (LossReport::elapsed_ms)
        for (const auto& r : got) {
          if (!drop.drop()) agent.on_data(r.bytes, now, r.from);
        }
        received += got.size();
        if (got.empty()) break;
      }
      // Coalesce wakeups during a transfer: waking for every datagram costs a context switch
      // each, which dominates when many agents share a CPU. The socket buffer holds far more
      // than arrives in this pause.
      if (received > 0) ::nanosleep(&kCoalesce, nullptr);
    }
    if (applying.valid() &&
        applying.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      try {
        if (auto outcome = applying.get()) agent.on_applied(*outcome, now);
      } catch (const std::exception& e) {
        // The journal keeps it for recovery.
        log::emit(log::error("FC2203", "apply-error").with("reason", e.what()));
      }
      if (!agent.apply_job_pending()) prune();
    }
    if (!applying.valid()) {
      if (auto job = agent.take_apply_job()) {
        applying =
            std::async(std::launch::async, [&applier, j = *job] { return applier.apply(j); });
      }
    }
    agent.tick(now, unicast);
    if (agent.counters().sessions_completed > completed_reported) {
      completed_reported = agent.counters().sessions_completed;
      print_counters(agent);
    }
    if (o.exit_after > 0 && agent.counters().sessions_completed >= o.exit_after &&
        agent.complete_acknowledged() && !applying.valid() && agent.fins_pending() == 0) {
      break;
    }
  }
  agent.checkpoint();
  print_counters(agent);
  if (drop.dropped() > 0) {
    log::emit(log::info("FC2106", "test-drop-model").with("dropped", drop.dropped()));
  }
  if (applying.valid()) applying.wait();  // SIGTERM: let the phase end (SIGKILL: recovery)
  log::emit(log::info("FC2102", "stopped"));
  return 0;
}

}  // namespace fleetcast::receiver
