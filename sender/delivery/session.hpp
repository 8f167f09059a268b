#pragma once
// One delivery session on the manager (paper §3.3.2, figures 4-6): announce a signed UPDATE until
// the targeted hosts registered, stream source + proactive parity interleaved across blocks,
// then repair rounds driven by NAKs until every registered host reported COMPLETE or the deadline
// passed. No threads or timers: main() calls on_datagram / tick and sleeps until next_wakeup.
//
// The parts it drives: receipts.hpp (the hosts and what they said), round_layout.hpp (the
// packets of a round, fresh parity per block), repair_planner.hpp (each repair round from the
// hosts' NAKs: dense blocks sized for a typical host, sparse ones combined into MIXED packets),
// datagram_queue.hpp (what the transport has not taken yet), pacer.hpp (the rate).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/transport.hpp"
#include "sender/delivery/data_auth.hpp"
#include "sender/delivery/datagram_queue.hpp"
#include "sender/delivery/pacer.hpp"
#include "sender/delivery/rate/rate_control.hpp"
#include "sender/delivery/receipts.hpp"
#include "sender/delivery/repair_planner.hpp"
#include "sender/delivery/round_layout.hpp"
#include "sender/fleet/inventory.hpp"

namespace fleetcast::sender {

using namespace std::chrono_literals;

// Per datagram on the wire beyond the UDP payload: IPv6 (40) + UDP (8).
inline constexpr std::uint64_t kWireOverhead = 48;

struct SessionConfig {
  std::string name;  // announced file name
  std::string kind = "file";
  std::uint64_t version = 0;
  std::uint16_t file_id = 1;
  protocol::SessionId session;
  protocol::Endpoint ctrl_group;
  protocol::Endpoint data_group;
  protocol::Endpoint reply;  // our unicast address + port for replies
  std::uint32_t symbol_size = fec::kDefaultSymbolSize;
  std::uint32_t max_k = fec::kDefaultSourceSymbols;
  double proactive = 0.0;  // parity sent in round 0, as a fraction of k
  // Copies of each new AUTH chunk per round (round_layout.hpp); 0: adaptive (auth_copies()).
  std::uint32_t auth_copies = 0;
  // How long the first announcement waits for the file's digest (a bigger file's goes out
  // without it; a later copy carries it). `before_digest` runs on the worker before it takes
  // the digest (tests hold it there).
  std::chrono::milliseconds digest_wait{100};
  std::function<void()> before_digest;
  // Blocks per MIXED repair packet: what the path MTU leaves room for (1 = none).
  std::size_t max_parts = 1;
  // Wire bytes per second (rate_control.hpp). The library's default is a fixed unlimited rate;
  // the command line's is the adaptive one.
  RateConfig rate = fixed_rate();
  Clock::duration announce_interval = 200ms;
  // Both from the first announcement (what the manager prepares before it, e.g. the hashes of
  // a big file, does not count: hosts cannot answer an announcement not yet sent).
  Clock::duration registration_timeout = 5s;
  Clock::duration deadline = 600s;
  Clock::duration nak_window = 50ms;  // plus 200 us per registered host (feedback spreading)
  std::uint64_t wall_time = 0;        // seconds since the epoch, for UPDATE time=
  // Bundles: what receivers do after receipt (UPDATE apply=), and whether the session then
  // waits for every completed host's FIN, asking with a signed STATUS every status_interval.
  protocol::ApplyMode apply = protocol::ApplyMode::none;
  bool collect_fin = false;
  Clock::duration fin_timeout = 600s;  // from the end of delivery
  Clock::duration status_interval = 1s;
  // Rollouts: hosts that never answered by the end of the registration window do not hold the
  // session open until the deadline; it ends once every host that registered is done (the
  // others get a catch-up session before their wave).
  bool leave_silent_hosts = false;
  // Sites whose relay repairs its own LAN (fleet/site.hpp, receiver/relay/site_repair.hpp):
  // when `relay` is a target of the session, the NAKs of the other targets among `hosts` go to
  // the relay at `at` (relay frames) instead of into the manager's repair rounds over the WAN.
  struct RelayedSite {
    std::string relay;
    protocol::Endpoint at;
    std::vector<std::string> hosts;
  };
  std::vector<RelayedSite> relayed_sites;
  // Targets that held this manager's fleet key in an earlier session (the store remembers what
  // their RECVs said): no KEYS line carries it to them unless they say they lost it.
  std::vector<std::string> fleet_key_holders;
};

// The replies the manager took while one round was current (the feedback implosion figure),
// and what planning that round cost.
struct RoundFeedback {
  std::uint64_t naks = 0;          // NAK packets (a host may send several for one round)
  std::uint64_t completes = 0;     // COMPLETE packets, repeats included
  std::uint64_t loss_reports = 0;  // LOSS-REPORTs
  std::uint64_t lines = 0;         // RECV / DENY / FIN lines
  std::uint64_t dropped = 0;       // malformed, unknown key, bad MAC or signature, other session
  double plan_ms = 0;              // laying out the round (repair planning, parity encoding)
  double plan_cpu_ms = 0;          // the same in this thread's CPU time (wall time also counts
                                   // waiting for a CPU shared with busy processes)
};

struct SessionStats {
  std::uint32_t rounds = 0;             // transmission rounds started
  std::uint64_t data_packets = 0;       // source symbols sent
  std::uint64_t parity_packets = 0;     // parity symbols sent
  std::uint64_t mixed_packets = 0;      // cross-block repair packets sent
  std::uint64_t auth_packets = 0;       // symbol-hash chunks sent (data authentication)
  std::uint64_t roots_packets = 0;      // signed roots of a window's chunks (the same)
  Clock::time_point first_data{};       // when the first symbol went out (epoch: none yet)
  std::uint64_t wire_bytes = 0;         // every datagram incl. IPv6 + UDP headers
  std::uint64_t control_packets = 0;    // UPDATE, ROUND, ACK
  std::uint64_t feedback_received = 0;  // verified RECV / NAK / COMPLETE / DENY
  std::uint64_t feedback_dropped = 0;   // malformed, unknown key, bad signature, other session
  double loss_estimate = 0.0;
  std::uint64_t loss_reports = 0;    // LOSS-REPORTs taken (rate adaptation)
  std::uint64_t naks_to_relays = 0;  // NAKs passed to a site's relay (repaired there)
  // [0]: before the first round (registration); [r]: while round r was sent or awaited.
  std::vector<RoundFeedback> by_round = std::vector<RoundFeedback>(1);
  RoundFeedback fin_phase;  // after delivery, while FINs are collected
};

class SenderSession {
 public:
  // file: the object, read block by block while the session runs (it must not change: each round
  // checks); targets: the inventory hosts this session is for.
  SenderSession(SessionConfig config, std::shared_ptr<const protocol::io::InputFile> file,
                std::vector<const Host*> targets, const protocol::SecretKey& key,
                Clock::time_point now);
  // The round layout reads the file and the plan in place: a session stays where it was made.
  SenderSession(const SenderSession&) = delete;
  SenderSession& operator=(const SenderSession&) = delete;

  // A datagram from the reply socket (RECV / DENY lines, NAK / COMPLETE packets).
  void on_datagram(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  // Sends what is due now (bounded by the pacer and the transport's buffer).
  void tick(Clock::time_point now, protocol::Transport& transport);
  Clock::time_point next_wakeup(Clock::time_point now) const;

  bool done() const { return phase_ == Phase::done; }
  // Why the session gave up ("" when it did not): which hosts, and what they did not do.
  const std::string& gave_up() const { return gave_up_; }
  const Receipts& receipts() const { return receipts_; }
  // Every accepted reply, as signed, goes to `o` too (the receipt store).
  void observe(Receipts::Observer o) { receipts_.observe(std::move(o)); }
  bool success() const { return receipts_.success(); }  // every targeted host completed
  const std::vector<HostReport>& hosts() const { return receipts_.hosts(); }
  const SessionStats& stats() const { return stats_; }
  // The file's digest; all zeros until it is taken (digest_known()): a big file's first
  // announcements go out before it, and a later copy of the UPDATE carries it.
  const protocol::Digest& digest() const { return digest_; }
  bool digest_known() const { return !digest_pending_; }
  std::size_t registered() const { return receipts_.registered(); }
  std::size_t completed() const { return receipts_.completed(); }
  std::uint64_t bytes_sent_in_round() const { return round_sent_bytes_; }
  // Wire bytes the current round sends in all (0 before streaming starts).
  std::uint64_t bytes_in_round() const { return round_total_bytes_; }
  const fec::BlockPlan& plan() const { return plan_; }
  const RateControl& rate() const { return rate_; }

 private:
  enum class Phase { announce, stream, wait, fin, done };

  void announce(Clock::time_point now, protocol::Transport& t);
  void start_round();
  void on_nak(std::size_t host, const protocol::Nak& nak);
  void stream(Clock::time_point now, protocol::Transport& t);
  void end_wait();
  void finish(Clock::time_point now, protocol::Transport& t, bool aborted);
  void on_feedback(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  void drop_feedback();  // counted in the stats and the current interval
  void on_loss_report(const protocol::SignedFeedback& fb, const protocol::LossReport& report);
  void on_complete(const protocol::SignedFeedback& fb, const protocol::Complete& c, HostReport& h,
                   std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  // Queues a datagram (the queue has a free slot) and counts its wire bytes.
  void queue(std::span<const std::uint8_t> bytes, const protocol::Endpoint& to);
  void count_sent(std::size_t n);
  void queue_round_marker();
  void queue_probe(Clock::time_point now);
  Clock::duration nak_window() const;
  void request_status(Clock::time_point now, protocol::Transport& t);
  RoundFeedback& feedback_now();  // the current round's (or the FIN phase's) counters

  SessionConfig config_;
  std::shared_ptr<const protocol::io::InputFile> file_;
  protocol::SecretKey key_;
  protocol::MacKey fleet_;  // fleet_key.hpp: on every line and packet this session signs
  fec::BlockPlan plan_;
  protocol::Update update_;  // announced again with a fresh time= each time
  // The manager's wall clock at `now`, seconds since the epoch (from config.wall_time).
  std::uint64_t wall_time(Clock::time_point now) const;
  RateControl rate_;
  Pacer pacer_;
  std::uint64_t probe_bytes_ = 0;  // wire bytes sent since the last probe
  Receipts receipts_;
  RoundLayout layout_;
  // AUTH chunks hosts asked for since the last round was laid out: (block, chunk).
  std::vector<std::pair<std::uint32_t, std::uint8_t>> requested_chunks_;
  std::vector<std::pair<std::size_t, std::uint32_t>> chunk_askers_;  // (host, block) of them
  DataAuth auth_;            // reads the whole file once, for the hashes and the digest
  protocol::Digest digest_;  // after auth_
  bool digest_pending_ = false;
  Clock::time_point digest_at_{};  // the first announcement that carried the digest
  SessionStats stats_;

  Phase phase_ = Phase::announce;
  Clock::time_point created_;  // the wall clock's anchor (wall_time)
  Clock::time_point start_;    // the first announcement (set by the first tick)
  bool started_ = false;
  std::string gave_up_;
  Clock::time_point next_announce_{};
  Clock::time_point wait_until_{};
  Clock::time_point second_round_marker_{};
  Clock::time_point fin_deadline_{};
  Clock::time_point next_status_{};
  std::size_t status_next_ = 0;  // the host the next STATUS's batch starts from
  bool round_marker_repeated_ = false;

  // Per host (hosts_ index): the NAK entries of its latest round, ascending, until the next
  // round is planned from them.
  std::vector<std::vector<protocol::NakEntry>> host_needs_;
  std::vector<std::uint32_t> host_needs_round_;
  // Replays of a host's genuine feedback (issue 26): its newest LOSS-REPORT probe, when a copy
  // of a NAK that verified before was last acted on, when its COMPLETE was last acknowledged.
  static constexpr auto kRepeatEvery = std::chrono::seconds(1);
  static constexpr auto kAckEvery = std::chrono::milliseconds(250);  // hosts repeat every 300+
  std::vector<std::uint32_t> last_report_probe_;
  std::vector<Clock::time_point> repeat_nak_at_;
  std::vector<Clock::time_point> acked_at_;
  // The relays of this session's sites (config.relayed_sites), each once; per host, the one
  // that feeds it (every host of a site, the relay too: index into site_relays_), and the host
  // index of the relay that repairs it (a targeted relay, for the other hosts of its site).
  std::vector<protocol::Endpoint> site_relays_;
  std::vector<std::optional<std::size_t>> fed_by_;
  std::vector<std::optional<std::size_t>> repaired_by_;
  // The host's NAKs go to its site's relay: it has one in this session that did not refuse it.
  bool repaired_at_site(std::size_t host) const;
  // A repair round's relays per block (index into relay_sets_; round 0 and MIXED packets: all).
  void map_sites(const std::vector<const Host*>& targets);  // session_sites.cpp
  void sign_layout_packets();
  protocol::Update make_update(const std::vector<const Host*>& targets) const;
  void scope_round_to_sites();
  // The sets of the last rounds stay: datagrams still queued point into them.
  std::vector<std::uint32_t> block_relays_;
  std::deque<std::vector<std::vector<protocol::Endpoint>>> relay_sets_;  // newest first
  void pass_to_relay(std::span<const std::uint8_t> nak, const protocol::Endpoint& relay);
  std::vector<std::uint8_t> nak_frame_;  // reused by pass_to_relay
  // Per host: the loss its NAK of the current round reported (-1: no NAK yet).
  std::vector<double> round_losses_;
  // The losses of the hosts that NAKed the last round any host NAKed: they size the AUTH and
  // ROOTS copies of the rounds (empty before: round 0 takes the rate's loss reports).
  std::vector<double> needy_losses_;
  void set_copies(std::span<const double> losses);
  std::uint64_t max_packet_cost_ = 0;  // wire bytes of the largest packet a round sends
  std::uint32_t round_ = 0;
  std::uint32_t sequence_ = 0;
  std::uint64_t round_sent_bytes_ = 0;
  std::uint64_t round_total_bytes_ = 0;

  DatagramQueue out_;  // datagrams built but not yet taken by the transport
};

}  // namespace fleetcast::sender
