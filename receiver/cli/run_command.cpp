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
#include "protocol/io/wait.hpp"
#include "receiver/apply/apply.hpp"
#include "receiver/reception/agent.hpp"
#include "receiver/relay/relay.hpp"
#include "receiver/relay/site_repair.hpp"

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
                  .with("refused", g.ctrl[p::Drop::over_budget] + g.data[p::Drop::over_budget])
                  .with("stale", g.ctrl[p::Drop::stale])
                  .with("replays", g.ctrl[p::Drop::replay])
                  .with("mac_dropped", g.ctrl[p::Drop::no_mac] + g.data[p::Drop::no_mac])
                  .with("drop_ctrl", g.ctrl.text())
                  .with("drop_data", g.data.text())
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

namespace {

AgentConfig agent_config(const RunOptions& o) {
  AgentConfig cfg;
  cfg.host_name = o.name;
  cfg.groups = o.groups;
  cfg.kinds = o.kinds;
  cfg.max_size = o.max_size;
  cfg.max_clock_skew = o.max_clock_skew;
  cfg.manager = p::io::load_public_key(o.manager_pub).key;
  cfg.spool = o.spool;
  cfg.state = o.state;
  return cfg;
}

// Replies, feedback and the manager's answers: an exclusive socket on this host's address (no
// other user can bind its port and take the COMPLETE-ACKs), [::] where it has none yet.
std::array<std::uint8_t, 16> own_address(const std::string& iface) {
  try {
    return p::io::interface_address(iface);
  } catch (const p::io::SocketError&) {
    return {};
  }
}

std::unique_ptr<p::io::UdpSocket> ctrl_socket(const RunOptions& o, unsigned ifindex) {
  auto s = std::make_unique<p::io::UdpSocket>(o.ctrl_port, ifindex);
  s->join(p::text::parse_address(o.ctrl_group, o.ctrl_port, "ctrl").value());
  return s;
}

// The relay of this host's site (--relay-port): the manager's frames in, the LAN's multicast
// out (without hearing itself), and the check of receiver/relay/relay.hpp between them.
struct RelayPort {
  RelayPort(const RunOptions& o, const p::PublicKey& manager, const p::Endpoint& ctrl,
            unsigned ifindex)
      : in(std::array<std::uint8_t, 16>{}, o.relay_port, ifindex),
        out(own_address(o.iface), 0, ifindex),
        relay(manager, ctrl) {
    in.set_buffer_sizes(16 << 20);
    out.set_multicast(o.relay_hop_limit, false);
    out.set_buffer_sizes(16 << 20);
  }
  p::io::UdpSocket in;
  p::io::UdpSocket out;
  SiteRelay relay;
  std::uint64_t lost = 0;  // forwarded datagrams the LAN socket's buffer did not take
  // Repair of the site's LAN from the relay's own complete copy (site_repair.hpp): made on a
  // worker thread (it hashes the whole file) once the relay's agent completed a session.
  std::unique_ptr<SiteRepair> repair;
  std::future<std::unique_ptr<SiteRepair>> preparing;
  std::uint64_t completed_seen = 0;
  std::uint64_t unrepaired = 0;  // NAKs passed on while no repair was ready for their file
};

std::uint64_t random_seed() {
  std::random_device entropy;
  return (std::uint64_t{entropy()} << 32) | entropy();
}

// The receiver's one loop: the ctrl group, the unicast socket and (while a session is received)
// the data group feed the agent; the apply pipeline runs on one worker thread (scripts take
// seconds; the loop keeps answering).
class ReceiverLoop {
 public:
  explicit ReceiverLoop(const RunOptions& o)
      : o_(o),
        cfg_(agent_config(o)),
        ifindex_(p::io::interface_index(o.iface)),
        ctrl_(ctrl_socket(o, ifindex_)),  // joined before a recovery that may take minutes
        unicast_(own_address(o.iface), 0, ifindex_),
        seed_(random_seed()),
        agent_(cfg_, p::io::load_secret_key(o.key), log::emit, seed_),
        applier_(make_apply_config(o, cfg_.manager), log::emit),
        drop_(o, seed_ ^ 0x5eed) {
    if (o.relay_port != 0) {
      relay_ = std::make_unique<RelayPort>(
          o, cfg_.manager, p::text::parse_address(o.ctrl_group, o.ctrl_port, "ctrl").value(),
          ifindex_);
    }
    // Results of earlier sessions answer a manager's STATUS (status --refresh, rollout resume).
    for (ApplyRecord& r : applier_.journal().latest_results(Agent::kMaxFins)) {
      if (!r.status) continue;
      const p::FinStatus status = *r.status;
      agent_.remember_result(ApplyOutcome{status, r.message, std::move(r)});
    }
    // Unfinished applies from before a crash are finished or rolled back first.
    for (const auto& r : applier_.recover()) agent_.on_applied(r, Clock::now());
    prune();
  }

  int run() {
    log::emit(log::info("FC2101", "listening")
                  .with("host", o_.name)
                  .with("iface", o_.iface)
                  .with("group", o_.ctrl_group)
                  .with("manager", p::fingerprint(cfg_.manager))
                  .with("version", FLEETCAST_VERSION));
    while (!g_stop && !finished()) {
      follow_data_group();
      const Clock::time_point now = read_sockets();
      poll_apply(now);
      agent_.tick(now, unicast_);
      if (relay_) follow_site_repair(now);
      if (agent_.counters().sessions_completed > completed_reported_) {
        completed_reported_ = agent_.counters().sessions_completed;
        print_counters(agent_);
        if (relay_) print_relay_counters();
      }
    }
    agent_.checkpoint();
    print_counters(agent_);
    if (relay_) print_relay_counters();
    if (drop_.dropped() > 0) {
      log::emit(log::info("FC2106", "test-drop-model").with("dropped", drop_.dropped()));
    }
    if (applying_.valid()) applying_.wait();  // SIGTERM: let the phase end (SIGKILL: recovery)
    log::emit(log::info("FC2102", "stopped"));
    return 0;
  }

 private:
  // The spool is pruned only while no apply runs (the worker owns the journal then).
  void prune() {
    log_freed("spool", prune_spool(o_.spool, o_.state, applier_.journal(), retention(o_),
                                   agent_.receiving()));
  }

  // --exit-after N (tests): N sessions completed, acknowledged and reported.
  bool finished() const {
    return o_.exit_after > 0 && agent_.counters().sessions_completed >= o_.exit_after &&
           agent_.complete_acknowledged() && !applying_.valid() && agent_.fins_pending() == 0;
  }

  // A member of the data group the agent names, and of no other.
  void follow_data_group() {
    const auto wanted = agent_.data_group();
    if (wanted == joined_) return;
    data_.reset();
    if (wanted) {
      data_ = std::make_unique<p::io::UdpSocket>(wanted->port, ifindex_);
      // Deep: a host busy elsewhere (its disk, other processes) falls behind for a while
      // instead of losing, and says so (its backlog, in its loss reports) before it loses.
      // Memory is taken only while packets wait.
      data_->set_buffer_sizes(64 << 20);
      // ff3x::/32 is source-specific multicast (RFC 4607): join (manager, group) only.
      const bool ssm = wanted->address[0] == 0xff && (wanted->address[1] >> 4) == 3;
      const auto source = agent_.data_source();
      data_->join(*wanted, ssm ? &source : nullptr);
    }
    joined_ = wanted;
  }

  // Waits until the agent's next wakeup (at most 200 ms) for a datagram, then hands what the
  // readable sockets hold to the agent. Returns the time after reading.
  Clock::time_point read_sockets() {
    auto now = Clock::now();
    auto wake = agent_.next_wakeup(now);
    if (relay_ && relay_->repair) wake = std::min(wake, relay_->repair->next_wakeup(now));
    if (relay_ && relay_->preparing.valid()) wake = std::min(wake, now + 50ms);
    pollfd fds[4] = {{ctrl_->fd(), POLLIN, 0},
                     {unicast_.fd(), POLLIN, 0},
                     {data_ ? data_->fd() : -1, POLLIN, 0},
                     {relay_ ? relay_->in.fd() : -1, POLLIN, 0}};
    if (p::io::wait_readable(fds, wake - now, 200ms) < 0 && errno != EINTR) {
      log::emit(log::error("FC2105", "poll-failed").with("reason", std::strerror(errno)));
    }
    now = Clock::now();
    // Only sockets poll() reported readable: an idle socket costs no system call per wakeup.
    if (fds[0].revents & POLLIN) {
      for (const auto& r : ctrl_->receive(buffer_, p::kMaxDataDatagram)) {
        agent_.on_ctrl(r.bytes, now, r.from);
      }
    }
    if (fds[1].revents & POLLIN) {
      for (const auto& r : unicast_.receive(buffer_, p::kMaxDataDatagram)) {
        agent_.on_data(r.bytes, now, r.from);
      }
    }
    if (data_ && (fds[2].revents & POLLIN)) now = drain_data();
    if (relay_ && (fds[3].revents & POLLIN)) now = drain_relay();
    return now;
  }

  // The manager's frames: multicast on the LAN what the relay's check passes, and hand it to
  // this host's own agent as if it had been heard on the LAN.
  Clock::time_point drain_relay() {
    Clock::time_point now = Clock::now();
    for (int batch = 0; batch < 64; ++batch) {
      const auto got = relay_->in.receive(buffer_, p::kMaxDataDatagram + p::kRelayFrameBytes);
      now = Clock::now();
      lan_batch_.clear();  // into buffer_: sent before the next receive
      for (const auto& r : got) {
        const auto frame = relay_->relay.on_frame(r.bytes, r.from, now);
        if (!frame) continue;
        if (frame->feedback) {
          if (!relay_->repair || !relay_->repair->on_nak(frame->datagram, now)) {
            ++relay_->unrepaired;
          }
          continue;
        }
        lan_batch_.push_back({frame->datagram, frame->to});
        if (frame->to == relay_->relay.ctrl()) {
          agent_.on_ctrl(frame->datagram, now, r.from);
        } else if (joined_ && frame->to == *joined_) {
          agent_.on_data(frame->datagram, now, r.from);
        }
      }
      // One sendmmsg per batch; what a full buffer refuses is lost (hosts ask for it again).
      relay_->lost += lan_batch_.size() - relay_->out.send(lan_batch_);
      if (got.empty()) break;
    }
    return now;
  }

  // Starts the repair of a session the relay completed (on the worker thread), takes it once
  // made, and lets it send what is due.
  void follow_site_repair(Clock::time_point now) {
    RelayPort& r = *relay_;
    if (r.preparing.valid() &&
        r.preparing.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      try {
        r.repair = r.preparing.get();
        log::emit(log::info("FC2108", "relay-repairs").with("bundle", r.repair->update().name));
      } catch (const std::exception& e) {
        log::emit(log::warning("FC2109", "relay-repair-refused").with("reason", e.what()));
      }
    }
    const auto done = agent_.counters().sessions_completed;
    if (done != r.completed_seen && !r.preparing.valid() && agent_.update() && agent_.current()) {
      r.completed_seen = done;
      const p::Update u = *agent_.update();
      const std::filesystem::path file = agent_.current()->final_path();
      auto roots = agent_.current()->roots();
      const auto rate = static_cast<std::uint64_t>(o_.relay_lan_mbit * 1e6 / 8);
      r.preparing =
          std::async(std::launch::async, [u, file, roots = std::move(roots), rate]() mutable {
            return std::make_unique<SiteRepair>(u, file, std::move(roots), rate);
          });
    }
    if (r.repair) r.repair->tick(now, r.out);
  }

  void print_relay_counters() const {
    const RelayCounters& c = relay_->relay.counters();
    log::emit(log::info("FC2107", "relay")
                  .with("frames", c.frames)
                  .with("forwarded", c.forwarded)
                  .with("bytes", c.forwarded_bytes)
                  .with("lost", relay_->lost)
                  .with("repair_naks", relay_->repair ? relay_->repair->stats().naks : 0)
                  .with("repair_rounds", relay_->repair ? relay_->repair->stats().rounds : 0)
                  .with("repair_packets", relay_->repair ? relay_->repair->stats().packets : 0)
                  .with("unrepaired", relay_->unrepaired)
                  .with("dropped", c.dropped.total())
                  .with("drops", c.dropped.text()));
  }

  Clock::time_point drain_data() {
    Clock::time_point now = Clock::now();
    std::size_t received = 0;
    agent_.on_backlog(data_->receive_backlog());
    for (int batch = 0; batch < 64; ++batch) {
      const auto got = data_->receive(buffer_, p::kMaxDataDatagram);
      now = Clock::now();  // per batch: a probe's reading time (LossReport::elapsed_ms)
      for (const auto& r : got) {
        if (!drop_.drop()) agent_.on_data(r.bytes, now, r.from);
      }
      received += got.size();
      if (got.empty()) break;
    }
    // Coalesce wakeups during a transfer: waking for every datagram costs a context switch
    // each, which dominates when many agents share a CPU. The socket buffer holds far more
    // than arrives in this pause.
    if (received > 0) ::nanosleep(&kCoalesce, nullptr);
    return now;
  }

  // A finished apply's result to the agent; the next job to the worker.
  void poll_apply(Clock::time_point now) {
    if (applying_.valid() &&
        applying_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      try {
        if (auto outcome = applying_.get()) agent_.on_applied(*outcome, now);
      } catch (const std::exception& e) {
        // The journal keeps it for recovery.
        log::emit(log::error("FC2203", "apply-error").with("reason", e.what()));
      }
      if (!agent_.apply_job_pending()) prune();
    }
    if (!applying_.valid()) {
      if (auto job = agent_.take_apply_job()) {
        applying_ = std::async(std::launch::async, [this, j = *job] { return applier_.apply(j); });
      }
    }
  }

  const RunOptions& o_;
  AgentConfig cfg_;
  unsigned ifindex_;
  std::unique_ptr<p::io::UdpSocket> ctrl_;
  p::io::UdpSocket unicast_;
  std::unique_ptr<p::io::UdpSocket> data_;
  std::optional<p::Endpoint> joined_;
  std::uint64_t seed_;
  Agent agent_;
  Applier applier_;
  std::future<std::optional<ApplyOutcome>> applying_;
  DropModel drop_;
  std::unique_ptr<RelayPort> relay_;
  std::vector<p::Datagram> lan_batch_;  // drain_relay: what one batch multicasts on the LAN
  std::vector<std::uint8_t> buffer_ =
      std::vector<std::uint8_t>(64 * (p::kMaxDataDatagram + p::kRelayFrameBytes));
  std::uint64_t completed_reported_ = 0;
};

}  // namespace

int run_command(const RunOptions& o) {
  make_private_dir(o.spool);
  make_private_dir(o.state);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  return ReceiverLoop(o).run();
}

}  // namespace fleetcast::receiver
