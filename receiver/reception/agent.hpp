#pragma once
// The host agent's session logic (paper §3.3.2): permission check on a signed UPDATE, RECV by
// unicast, reception with FEC, NAKs after each round marker spread over the announced window,
// COMPLETE once the file is verified and durable, repeated until the manager acknowledges it.
// No threads, timers or sockets: main() feeds datagrams, calls tick(), and joins the data group
// that data_group() names.

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/drops.hpp"
#include "protocol/io/clock.hpp"
#include "protocol/log/log.hpp"
#include "protocol/transport.hpp"
#include "receiver/apply/apply.hpp"
#include "receiver/reception/assembler.hpp"
#include "receiver/reception/fin_outbox.hpp"
#include "receiver/reception/manager_gate.hpp"
#include "receiver/reception/nak_scheduler.hpp"
#include "receiver/reception/rate_reporter.hpp"

namespace fleetcast::receiver {

using namespace std::chrono_literals;

struct AgentConfig {
  std::string host_name;
  std::vector<std::string> groups;
  protocol::PublicKey manager;
  std::filesystem::path spool;
  std::filesystem::path state;
  std::uint64_t max_size = std::uint64_t{16} << 30;  // refuse larger announcements
  std::vector<std::string> kinds;                    // allowed kinds; empty = any
  Clock::duration reply_spread = 100ms;              // RECV delay is uniform in [0, reply_spread)
  Clock::duration checkpoint_every = 500ms;
  Clock::duration idle_nak_after = 2s;  // NAK without a round marker when data stops
  // Wall clock in seconds since the epoch (the commands' time window); tests pass their own.
  std::function<std::uint64_t()> wall_clock = [] { return protocol::io::wall_seconds(); };
  // Freshness: a manager command (UPDATE, ACTIVATE, STATUS, ABORT) whose time lies further than
  // this from the host's clock is a replay, or one of the clocks is off: it is ignored with a
  // log line saying which (an UPDATE that names this host is also answered with a DENY giving
  // both times). The manager signs every copy it sends with its current time, so a fresh one
  // always follows. What makes a replay inside the window harmless, and cheap: a line older
  // than the newest of its kind and session, or an older session's announcement, is dropped
  // before its signature is checked (protocol/freshness.hpp); STATUS and ACTIVATE act at most
  // once per manager second; a bundle is applied at most once per (digest, session) (the
  // journal, apply.hpp); ABORT acts only on the session being received, never a finished one.
  std::uint64_t max_clock_skew = protocol::kDefaultClockSkew;
};

struct AgentCounters {
  // What was dropped, by reason (protocol/drops.hpp): ctrl-group lines, and data-group or
  // unicast packets. A line for another host is not a drop (it is silence).
  protocol::Drops ctrl;
  protocol::Drops data;
  std::uint64_t naks_sent = 0;
  std::uint64_t sessions_completed = 0;
  std::uint64_t loss_reports_sent = 0;  // answers to the manager's rate probes
  std::uint64_t verifications = 0;      // Ed25519 verifications done (the budget's spending)
};

class Agent {
 public:
  // Resumes the session recorded in <state>/current.update when its announcement still verifies.
  Agent(AgentConfig config, protocol::SecretKey key, Log log, std::uint64_t seed,
        Clock::time_point now = Clock::now());

  // `from`: the datagram's source (the verification budget, verify_budget.hpp).
  void on_ctrl(std::span<const std::uint8_t> bytes, Clock::time_point now,
               const protocol::Endpoint& from = {});
  // Where the announcement being received is kept, so a restart rejoins without waiting.
  std::filesystem::path update_path() const { return config_.state / "current.update"; }
  // Where the fleet key (fleet_key.hpp) of this host's manager is kept.
  std::filesystem::path fleet_key_path() const { return gate_.fleet_key_path(); }
  bool holds_fleet_key() const { return gate_.holds_fleet_key(); }
  void on_data(std::span<const std::uint8_t> bytes, Clock::time_point now,
               const protocol::Endpoint& from = {});
  // How full the data socket's receive buffer is (per kLossScale), before its packets are
  // read: a probe among them carries it back.
  void on_backlog(std::uint16_t backlog) { rates_.on_backlog(backlog); }
  void tick(Clock::time_point now, protocol::Transport& unicast);
  Clock::time_point next_wakeup(Clock::time_point now) const;

  // The data group to be a member of (nullopt: none).
  std::optional<protocol::Endpoint> data_group() const;
  // The manager's address: the source to join for a source-specific group (ff3x::/32).
  std::array<std::uint8_t, 16> data_source() const {
    return update_ ? update_->reply.address : std::array<std::uint8_t, 16>{};
  }
  // Durable checkpoint of the current reception (also done periodically by tick).
  void checkpoint();

  // A received bundle to apply (the announcement asked for apply=now or dry-run), once.
  std::optional<ApplyJob> take_apply_job();
  bool apply_job_pending() const { return apply_job_.has_value(); }
  // The result of an apply: FIN to the manager now, repeated a few times and on every STATUS.
  void on_applied(const ApplyOutcome& outcome, Clock::time_point now);
  // A result from before this process started (the journal): sent only when a STATUS asks.
  void remember_result(const ApplyOutcome& outcome);
  static constexpr std::size_t kMaxFins = FinOutbox::kMaxFins;  // kept for STATUS
  std::size_t fins_pending() const { return fins_.pending(); }  // not yet sent at least once

  const AgentCounters& counters() const { return counters_; }
  // The spool name of the reception in progress ("" when none): retention never touches it.
  std::string receiving() const { return update_ && assembler_ ? update_->name : std::string(); }
  const Assembler* current() const { return assembler_.get(); }
  // The announcement of the session being received (or last completed), if any.
  const std::optional<protocol::Update>& update() const { return update_; }
  bool complete_acknowledged() const { return complete_.acked; }

 private:
  // A verified announcement that passed admissible() (or the one kept for a restart).
  void on_update(const protocol::Update& u, Clock::time_point now);
  void on_abort(const protocol::Abort& a);
  void on_status(const protocol::StatusRequest& s, Clock::time_point now);
  void on_activate(const protocol::Activate& a);
  void on_feedback(const protocol::SignedFeedback& fb, std::span<const std::uint8_t> bytes,
                   const protocol::Endpoint& from, Clock::time_point now);
  // A symbol, MIXED or AUTH packet of the session, stored; completes the file when it was the
  // last one needed.
  void on_stored(std::uint32_t sequence, Clock::time_point now);
  void complete_if_whole(Clock::time_point now);
  // The line's targets include this host (commands without targets: yes).
  bool names_this_host(const protocol::Command& c) const;
  // Before any signature: inside the time window, and not older than the newest line of its
  // kind (freshness.hpp) nor an older session's announcement. A stale UPDATE may earn a DENY.
  bool admissible(const protocol::SignedCommand& c, const protocol::Stamp& s, std::string_view line,
                  const protocol::Endpoint& from, Clock::time_point now);
  void deny_stale(const protocol::SignedCommand& c, const protocol::Update& u,
                  std::string_view line, const protocol::Endpoint& from, Clock::time_point now);
  bool wanted(const protocol::Feedback& f) const;
  // Inside the time window; otherwise logs (what, how far off) and counts it.
  bool within_clock_window(std::string_view verb, std::string_view name, std::uint64_t time);
  std::optional<protocol::Update> verified_update(std::string_view line) const;
  // The signature step of the gate, counted.
  // The signature step of the gate; a drop is counted in `drops`.
  bool signed_by_manager(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                         Clock::time_point now, const std::function<bool()>& verify,
                         protocol::Drops& drops);
  // Signs `c`, adds this host's MAC (fleet_key.hpp) and sends it to `to` (the announcement's
  // reply address by default); false when it does not encode.
  bool send_line(const protocol::Command& c, protocol::Transport& t,
                 const protocol::Endpoint* to = nullptr);
  void send_feedback(const protocol::Feedback& f, protocol::Transport& t);
  void send_replies(Clock::time_point now, protocol::Transport& t);
  std::optional<std::string> refuse_reason(const protocol::Update& u) const;
  // Refuses the session of `update_` with a DENY giving `reason` (sent by tick).
  void refuse(const std::string& reason, Clock::time_point now);
  Clock::duration uniform(Clock::duration max);
  void queue_apply();
  // An encrypted bundle (protocol/bundle/crypt.hpp) not addressed to this host is refused with
  // a DENY as soon as its recipient table has arrived; false when it was refused.
  bool check_envelope(Clock::time_point now);
  // The FIN of `o` kept for its session (nothing for a local apply).
  void keep_fin(const ApplyOutcome& o, Clock::time_point first, bool asked_only);
  // Keeps the signed announcement of a new reception for a restart (verified again on load).
  void keep_announcement(const protocol::Update& u, std::string_view line);

  // DENY for an announcement whose time is outside the window, with its reply address; sent
  // once per session (the last kKept remembered), at most one a second, without touching the
  // session being received.
  struct StaleDenials {
    static constexpr std::size_t kKept = 64;
    static constexpr auto kEvery = std::chrono::seconds(1);
    std::optional<std::pair<protocol::Deny, protocol::Endpoint>> pending;
    std::deque<protocol::SessionId> sessions;
    Clock::time_point next{};
  };
  // COMPLETE is repeated until the manager acknowledges it, until `deadline`.
  struct Completion {
    Clock::time_point at = Clock::time_point::max();
    Clock::time_point deadline{};
    bool acked = false;
  };
  // A session this host refused: its DENY (repeated with the RECV timer) and its ID (its
  // announcements are ignored from then on).
  struct Refusal {
    std::optional<protocol::Deny> deny;
    protocol::SessionId session;
  };

  AgentConfig config_;
  protocol::SecretKey key_;
  ManagerGate gate_;
  Log log_;
  std::mt19937_64 rng_;
  AgentCounters counters_;
  std::optional<protocol::Update> update_;  // the session being received
  std::unique_ptr<Assembler> assembler_;
  bool envelope_checked_ = false;  // the recipient table of the current reception was read
  Refusal refusal_;
  // Newest announcement time of the session being received: an UPDATE of another session
  // older than this is a replay and changes nothing.
  std::uint64_t session_time_ = 0;
  StaleDenials stale_;
  Clock::time_point recv_at_ = Clock::time_point::max();
  NakScheduler naks_;
  RateReporter rates_;
  Completion complete_;
  Clock::time_point next_checkpoint_{};
  std::optional<ApplyJob> apply_job_;  // for the current, complete reception (unless apply=none)
  FinOutbox fins_;
};

}  // namespace fleetcast::receiver
