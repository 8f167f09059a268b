#pragma once
// One rollout as a state machine on the manager's one loop (mosh's tick / next_wakeup, as
// SenderSession and Activation): no threads, no sleeps, no socket. The phases
//
//   [collect] -> distribute -> ( [catch-up] -> window -> activate ... -> [soak] )* -> ended
//
// collect (a resumed rollout only): a STATUS poll for the results the hosts sent while no
// manager listened. distribute: one session (apply=hold) to every host without a result: each
// receives, checks and holds the bundle. Then per wave (plan.hpp): a catch-up session to the
// wave's hosts that were silent so far; the wait for the first of their maintenance windows;
// one ACTIVATE (activation.hpp) per group of hosts whose windows are open, until each host of
// the wave had its turn; the soak. The failure halt is WaveTracker's (waves.hpp).
//
// Between steps it asks the store (at most every 100 ms while waiting) for the operator's
// request: pause and abort start no new wave; an interrupt (a signal to `serve`) does the same
// and leaves the rollout running for a later resume. Time comes in: `now` for the loop, and the
// wall clock (the maintenance windows, the commands' time) from `wall`, so tests drive a whole
// rollout, windows and soak included, on a fake clock.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "protocol/io/random_access.hpp"
#include "protocol/log/log.hpp"
#include "protocol/transport.hpp"
#include "sender/delivery/session.hpp"
#include "sender/delivery/status_poll.hpp"
#include "sender/delivery/totals.hpp"
#include "sender/rollout/activation.hpp"
#include "sender/rollout/outcome.hpp"
#include "sender/rollout/plan.hpp"
#include "sender/rollout/waves.hpp"
#include "sender/store/store.hpp"

namespace fleetcast::sender {

// What the rollout delivers and to whom; `targets[i]` is plan.hosts[i].
struct RolloutBundle {
  SessionConfig session;  // apply=hold; a resumed rollout's session and file ID
  std::shared_ptr<const protocol::io::InputFile> file;
  std::vector<const Host*> targets;
  std::string bundle_name;
  std::uint64_t version = 0;
  protocol::Digest digest{};
};

// Where it reports: lines for the operator's console, and each session once it ended (for its
// FIN table). Both may be empty.
struct RolloutOutput {
  std::function<void(const std::string&)> say;
  std::function<void(const SenderSession&)> session_ended;
};

using WallClock = std::function<SysSeconds()>;

class Rollout {
 public:
  // `store` (may be null: no record, no requests) holds rollout `id`; `resumed`: a killed or
  // paused manager's rollout, its started waves from the store.
  Rollout(RolloutPlan plan, RolloutBundle bundle, const protocol::SecretKey& key, Store* store,
          std::int64_t id, bool resumed, WallClock wall, RolloutOutput out, Clock::time_point now);
  ~Rollout();
  Rollout(const Rollout&) = delete;
  Rollout& operator=(const Rollout&) = delete;

  void on_datagram(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  void tick(Clock::time_point now, protocol::Transport& transport);
  Clock::time_point next_wakeup(Clock::time_point now) const;
  bool done() const { return phase_ == Phase::ended; }
  // The process is asked to stop (serve's SIGTERM): no new wave, the rollout stays running.
  void interrupt() { interrupted_ = true; }
  std::int64_t id() const { return id_; }

  // Once done:
  bool succeeded() const;  // not halted, every host applied
  Request request() const { return request_; }
  const WaveTracker& tracker() const { return tracker_; }
  const std::vector<HostOutcome>& hosts() const { return hosts_; }
  const RolloutPlan& plan() const { return plan_; }
  std::uint64_t wire_bytes() const { return ended_.wire_bytes; }  // of the sessions ended
  // The delivery sessions so far, the one running included (the web view's counters).
  DeliveryTotals totals() const;
  double seconds(Clock::time_point now) const;

 private:
  enum class Phase { start, collect, distribute, catch_up, window, activate, soak, ended };
  using Child = std::variant<std::monostate, StatusPoll, SenderSession, Activation>;

  std::vector<std::size_t> all_hosts() const;
  void begin(Clock::time_point now);
  void child_done(Clock::time_point now);
  void collected();
  bool deliver(const std::vector<std::size_t>& which, bool catch_up, Clock::time_point now);
  void delivered(const SenderSession& s, Clock::time_point now);
  void distributed(Clock::time_point now);
  void replay_started_waves();
  void next_wave(Clock::time_point now);
  void after_catch_up(Clock::time_point now);
  void try_activate(Clock::time_point now);
  bool wait_for_window(const std::vector<std::size_t>& hosts, SysSeconds wall,
                       Clock::time_point now);
  void report_results(const Activation& a, Clock::time_point now);
  void activate(const std::vector<std::size_t>& open, Clock::time_point now);
  void activated(const Activation& a, Clock::time_point now);
  void end_wave(Clock::time_point now);
  void result(std::size_t h, protocol::FinStatus status, const std::string& message,
              Clock::time_point now);
  void finish();
  bool stopped(Clock::time_point now);
  std::vector<WaveTracker::Delivery> delivery() const;
  Clock::time_point at_wall(SysSeconds t, Clock::time_point now) const;
  void say(const std::string& line) const;
  log::Event event(log::Level level, std::string_view id, std::string_view name) const;

  RolloutPlan plan_;
  RolloutBundle bundle_;
  const protocol::SecretKey& key_;
  Store* store_;
  std::int64_t id_;
  bool resumed_;
  std::vector<std::size_t> waves_started_;  // stored, 1-based (a resumed rollout)
  WallClock wall_;
  RolloutOutput out_;
  Clock::time_point start_;
  WaveTracker tracker_;
  std::vector<HostOutcome> hosts_;
  Phase phase_ = Phase::start;
  Child child_;
  std::vector<std::size_t> child_hosts_;  // the targets the child serves, in its order
  std::size_t wave_ = 0;                  // the wave being caught up, waited for or activated
  bool wave_begun_ = false;               // tracker_.start_next_wave() ran for wave_
  bool wave_recorded_ = false;            // the store has its start
  std::vector<std::size_t> waiting_;      // activated hosts of wave_ not yet sent an ACTIVATE
  std::vector<bool> reported_;            // per child host: its activation result is in
  Clock::time_point wake_ = Clock::time_point::max();  // window or soak: when to look again
  Clock::time_point next_ask_{};                       // the store's request column, next read
  Request request_ = Request::none;
  bool interrupted_ = false;
  DeliveryTotals ended_;  // the delivery sessions that ended
};

}  // namespace fleetcast::sender
