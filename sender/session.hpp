#pragma once
// One delivery session on the manager (paper §3.3.2, figures 4-6): announce a signed UPDATE until
// the targeted hosts registered, stream source + proactive parity interleaved across blocks,
// then repair rounds driven by NAKs until every registered host reported COMPLETE or the deadline
// passed. No threads or timers: main() calls on_datagram / tick and sleeps until next_wakeup.
//
// Repair: per block, the t-th symbol ever sent has ESI t mod 255, so round 0 sends the k source
// symbols and the proactive parity, and each repair round continues with parity indices never
// sent before: one repair symbol serves every host that misses any symbol of that block.
// repair_planner.hpp decides each round from the hosts' NAKs (dense blocks sized for a typical
// host, sparse ones combined into MIXED packets).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fec/block_plan.hpp"
#include "fec/codec.hpp"
#include "fec/interleave.hpp"
#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/transport.hpp"
#include "sender/inventory.hpp"
#include "sender/pacer.hpp"
#include "sender/repair_planner.hpp"

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
  // Blocks per MIXED repair packet: what the path MTU leaves room for (1 = none).
  std::size_t max_parts = 1;
  std::uint64_t rate = 0;  // wire bytes per second, 0 = unlimited
  Clock::duration announce_interval = 200ms;
  Clock::duration registration_timeout = 5s;
  Clock::duration deadline = 600s;    // from the start of the session
  Clock::duration nak_window = 50ms;  // plus 200 us per registered host (feedback spreading)
  std::uint64_t wall_time = 0;        // seconds since the epoch, for UPDATE time=
  // Bundles: what receivers do after receipt (UPDATE apply=), and whether the session then
  // waits for every completed host's FIN, asking with a signed STATUS every status_interval.
  std::string apply = "none";
  bool collect_fin = false;
  Clock::duration fin_timeout = 600s;  // from the end of delivery
  Clock::duration status_interval = 1s;
};

struct HostReport {
  const Host* host = nullptr;
  bool registered = false;
  bool completed = false;
  bool denied = false;
  std::string deny_reason;
  Clock::time_point registered_at{};
  Clock::time_point completed_at{};
  std::uint32_t have_at_registration = 0;
  std::uint32_t naks = 0;
  std::uint32_t last_nak_round = 0;
  protocol::Digest digest{};
  protocol::Endpoint from;
  // FIN (push): the apply result the host reported.
  bool fin = false;
  protocol::FinStatus fin_status = protocol::FinStatus::received;
  std::string fin_message;
  std::uint64_t fin_version = 0;
  protocol::Digest fin_digest{};
  Clock::time_point fin_at{};
};

struct SessionStats {
  std::uint32_t rounds = 0;             // transmission rounds started
  std::uint64_t data_packets = 0;       // source symbols sent
  std::uint64_t parity_packets = 0;     // parity symbols sent
  std::uint64_t mixed_packets = 0;      // cross-block repair packets sent
  std::uint64_t wire_bytes = 0;         // every datagram incl. IPv6 + UDP headers
  std::uint64_t control_packets = 0;    // UPDATE, ROUND, ACK
  std::uint64_t feedback_received = 0;  // verified RECV / NAK / COMPLETE / DENY
  std::uint64_t feedback_dropped = 0;   // malformed, unknown key, bad signature, other session
  double loss_estimate = 0.0;
};

class SenderSession {
 public:
  // file: the whole object; targets: the inventory hosts this session is for.
  SenderSession(SessionConfig config, std::vector<std::uint8_t> file,
                std::vector<const Host*> targets, const protocol::SecretKey& key,
                Clock::time_point now);

  // A datagram from the reply socket (RECV / DENY lines, NAK / COMPLETE packets).
  void on_datagram(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  // Sends what is due now (bounded by the pacer and the transport's buffer).
  void tick(Clock::time_point now, protocol::Transport& transport);
  Clock::time_point next_wakeup(Clock::time_point now) const;

  bool done() const { return phase_ == Phase::done; }
  bool success() const;  // every targeted host completed
  // Hosts whose FIN reported `status` (applied; checked for a dry run).
  std::size_t fins_with(protocol::FinStatus status) const;
  const std::vector<HostReport>& hosts() const { return hosts_; }
  const SessionStats& stats() const { return stats_; }
  const protocol::Digest& digest() const { return digest_; }
  std::size_t registered() const;
  std::size_t completed() const;
  std::uint64_t bytes_sent_in_round() const { return round_sent_bytes_; }
  // Wire bytes the current round sends in all (0 before streaming starts).
  std::uint64_t bytes_in_round() const { return round_total_bytes_; }
  const fec::BlockPlan& plan() const { return plan_; }

 private:
  enum class Phase { announce, stream, wait, fin, done };
  // One symbol of a packet of the current round.
  struct Part {
    std::uint32_t block;
    std::uint8_t esi;
    std::uint32_t slot;  // parity symbols: index into round_parity_
  };

  void announce(Clock::time_point now, protocol::Transport& t);
  void start_round(Clock::time_point now);
  void assign_symbols(const RoundPackets& packets);
  void encode_parity();
  std::size_t build_packet(std::uint32_t packet);  // into next_slot(); returns its length
  const std::uint8_t* symbol(const Part& part) const;
  void on_nak(std::size_t host, const protocol::Nak& nak);
  void stream(Clock::time_point now, protocol::Transport& t);
  void end_wait(Clock::time_point now);
  void finish(Clock::time_point now, protocol::Transport& t, bool aborted);
  void on_command(std::string_view line, const protocol::Endpoint& from, Clock::time_point now);
  void on_feedback(std::span<const std::uint8_t> bytes, const protocol::Endpoint& from,
                   Clock::time_point now);
  HostReport* host_by_key(protocol::KeyId id);
  bool flush(protocol::Transport& t);
  void queue(std::span<const std::uint8_t> bytes, const protocol::Endpoint& to);
  // The next free output slot, to build a datagram in place; commit() queues its first n bytes.
  std::span<std::uint8_t> next_slot();
  void commit(std::size_t n, const protocol::Endpoint& to);
  void queue_round_marker();
  Clock::duration nak_window() const;
  bool all_settled() const;
  bool all_answered() const;
  bool fins_settled() const;  // every completed host sent its FIN
  void request_status(Clock::time_point now, protocol::Transport& t);

  SessionConfig config_;
  std::vector<std::uint8_t> file_;  // padded to whole symbols
  protocol::SecretKey key_;
  fec::BlockPlan plan_;
  std::unique_ptr<fec::Codec> codec_;
  protocol::Digest digest_{};
  std::string update_line_;
  Pacer pacer_;
  std::vector<HostReport> hosts_;
  std::unordered_map<std::uint64_t, std::size_t> host_index_;  // key ID -> hosts_ index
  SessionStats stats_;

  Phase phase_ = Phase::announce;
  Clock::time_point start_;
  Clock::time_point next_announce_{};
  Clock::time_point wait_until_{};
  Clock::time_point second_round_marker_{};
  Clock::time_point fin_deadline_{};
  Clock::time_point next_status_{};
  bool round_marker_repeated_ = false;

  // Per block: symbols assigned to rounds so far (the next ESI is sent_ mod 255).
  std::vector<std::uint32_t> sent_;
  // Per host (hosts_ index): the NAK entries of its latest round, ascending, until the next
  // round is planned from them.
  std::vector<std::vector<protocol::NakEntry>> host_needs_;
  std::vector<std::uint32_t> host_needs_round_;
  double round_loss_ = -1;  // worst loss reported for the current round (-1: no NAK yet)
  // This round: packet i sends parts_[packet_first_[i] .. packet_first_[i + 1]); packets are
  // interleaved by lane (the block of their first part): lane b = lanes_[lane_first_[b] ..].
  std::vector<Part> parts_;
  std::vector<std::uint32_t> packet_first_;
  std::vector<std::uint32_t> lanes_;
  std::vector<std::uint32_t> lane_first_;
  std::unique_ptr<fec::Interleaver> order_;
  // Parity symbols of this round by slot; block b owns slots parity_first_[b] .. [b + 1].
  std::vector<std::uint8_t> round_parity_;
  std::vector<std::uint32_t> parity_first_;
  std::vector<std::uint8_t> slot_esi_;
  std::vector<std::uint8_t> mix_;      // payload of the MIXED packet being built
  std::uint64_t max_packet_cost_ = 0;  // wire bytes of the largest packet a round sends
  std::uint32_t round_ = 0;
  std::uint32_t sequence_ = 0;
  std::uint64_t round_sent_bytes_ = 0;
  std::uint64_t round_total_bytes_ = 0;

  // Datagrams built but not yet taken by the transport.
  std::vector<std::uint8_t> out_buffer_;
  std::vector<protocol::Datagram> out_;
  std::size_t out_next_ = 0;
  std::size_t out_used_ = 0;
};

}  // namespace fleetcast::sender
