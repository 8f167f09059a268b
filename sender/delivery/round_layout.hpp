#pragma once
// The packets of one transmission round, in the order they go on the wire. Per block, the t-th
// symbol ever sent has ESI t mod 255, so round 0 sends the k source symbols (and the proactive
// parity), and each repair round continues with parity indices never sent before: one repair
// symbol serves every host that misses any symbol of that block. Packets are interleaved across
// blocks (fec/interleave.hpp) so a loss burst spreads over many blocks. A packet of several
// blocks is a MIXED packet: the sum of one symbol of each.
//
// Reads each source symbol from the file when its packet is built, and encodes a round's parity
// block by block into a scratch file: memory grows with the number of blocks (a few words per
// block) and with the round's MIXED packets, not with the file or the round's parity.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "fec/codec.hpp"
#include "fec/interleave.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"
#include "sender/delivery/repair_planner.hpp"

namespace fleetcast::sender {

enum class PacketKind { source, parity, mixed, auth, table, roots };

class DataAuth;

// Each AUTH packet sent for the first time (or asked for) goes out several times, before the
// round's symbols. A host that loses every copy keeps the chunk's symbols aside and asks for
// the chunk in its NAK: the chunk goes out again (with as many copies) in the next round, which
// a host at that loss mostly needs anyway for its lost symbols. auth_copies() takes the losses
// the hosts that need the round measured (one each; empty: not measured yet, 2 copies):
// * at least enough that the worst of them loses every copy with at most kAuthMissTarget
//   probability (1 copy on a clean network, 2 up to 15.8 %, 3 up to 29 %, at most 4);
// * more when that sends fewer AUTH packets in all: a chunk costs c / (1 - q(c)) packets over
//   the rounds, q(c) = 1 - prod(1 - p_h^c) the chance some host loses all c copies. 16 hosts
//   at 0-15 %: 2 copies (2.26 packets a chunk; 3 copies cost 3.04); 300 hosts at 5 %: 3 (3.1;
//   2 copies leave half the chunks to send again: 4.3).
inline constexpr double kAuthMissTarget = 0.025;
inline constexpr std::uint32_t kMaxAuthCopies = 4;
std::uint32_t auth_copies(std::span<const double> losses);
// A host that loses every copy of a window's ROOTS packet checks none of the window's AUTH
// packets and asks for all of them again (192 at k = 128, 8 rounds' worth of AUTH copies at
// 2 copies): its copies (a quarter of an AUTH packet each) are sized so that the worst host
// loses them all with at most kRootsMissTarget probability (2 to 8; 3 while not measured: 2
// copies lost at 15 % cost a third of the 16-host runs a window of AUTH packets again).
inline constexpr double kRootsMissTarget = 1e-4;
std::uint32_t roots_copies(std::span<const double> losses);
// Blocks interleaved together (fec/interleave.hpp): a burst of up to 64 lost packets costs a
// block one symbol, and a host writes and completes the file 64 blocks (11 MiB at S = 1400,
// k = 128) at a time instead of touching every block of it all through round 0.
inline constexpr std::uint32_t kInterleaveWindow = 64;
static_assert(kInterleaveWindow == protocol::kAuthWindowBlocks,
              "a window's ROOTS and AUTH packets go just before the window's symbols");

class RoundLayout {
 public:
  // `file` (read with zeros past its end) must outlive the layout.
  RoundLayout(const fec::BlockPlan& plan, const protocol::io::InputFile& file,
              std::uint16_t file_id);
  // From now on each round sends the AUTH packets of the chunks it sends symbols of, before
  // those symbols (set_auth_copies: by window, or all first).
  void authenticate_with(const DataAuth* auth) { auth_ = auth; }
  // protocol::mixed_hash of every MIXED packet of the round laid out last.
  const std::vector<std::array<std::uint8_t, 16>>& mixed_hashes() const { return mixed_hashes_; }
  // Builds a signed MIXED table packet (protocol::MixedTable) of these hashes into out; its
  // length (0: failed). Each round then sends its tables twice, after the AUTH packets.
  using TableSigner = std::function<std::size_t(std::span<const std::array<std::uint8_t, 16>>,
                                                std::span<std::uint8_t>)>;
  void sign_mixed_tables(TableSigner signer) { sign_table_ = std::move(signer); }
  // Builds the signed ROOTS packet of a window (protocol::Roots) into out; its length (0:
  // failed). A round sends it before the first AUTH packet of each window it sends AUTH packets
  // of, roots_copies times (the copies together): a host
  // checks no AUTH packet of a window before it holds the window's roots (set_roots_copies).
  // `chunks`: the window's chunks the round sends AUTH packets of (the packet holds at least
  // their roots).
  using RootsSource = std::function<std::size_t(std::uint32_t window, std::uint8_t chunks,
                                                std::span<std::uint8_t>)>;
  void send_roots_with(RootsSource source, std::size_t datagram_bytes) {
    roots_ = std::move(source);
    roots_bytes_ = datagram_bytes;
  }
  // Copies of each AUTH packet sent for the first time from now on (auth_copies()); chunks sent
  // before go out once more with each round that needs them. A round without MIXED packets
  // sends the AUTH packets of each window of blocks (kInterleaveWindow) just before the
  // window's symbols, so a change made while it streams counts from the next window on (the
  // loss the hosts report in round 0); a round with MIXED packets sends them all first.
  void set_auth_copies(std::uint32_t copies) { auth_copies_ = copies; }
  // Copies of each window's ROOTS packet from now on (roots_copies()).
  void set_roots_copies(std::uint32_t copies) { roots_copies_ = copies; }
  // Before the first round: every block's symbols start halfway between k and 255, parity ESIs
  // the manager sends late if ever (a site's relay repairs with them,
  // receiver/relay/site_repair.hpp, while the manager's parity counts up from k).
  void start_parity_halfway();

  // Lays out a round: gives each part its block's next ESI and each packet its place in the
  // interleaved order, and encodes every parity symbol the round sends. Returns the round's
  // wire bytes (each datagram plus `per_datagram`).
  // `requested`: AUTH chunks (block, chunk) hosts asked for; they go out with the round's own
  // (with as many copies as chunks sent for the first time).
  std::uint64_t lay_out(const RoundPackets& packets, std::uint64_t per_datagram,
                        std::span<const std::pair<std::uint32_t, std::uint8_t>> requested = {});

  struct Built {
    std::size_t bytes;
    PacketKind kind;
    std::uint32_t block = 0;  // source, parity and AUTH packets: the block they serve
  };
  // Builds the round's next packet into `out` with this sequence number; nullopt when the round
  // has been sent. Throws std::logic_error when a packet does not encode (a bug).
  std::optional<Built> build_next(std::uint32_t sequence, std::span<std::uint8_t> out);

 private:
  // One symbol of a packet of the current round: the block's t-th symbol ever assigned
  // (ESI t mod 255).
  struct Part {
    std::uint32_t block;
    std::uint32_t t;
  };
  void encode_parity();
  // The AUTH packets of the round (auth_queue_), with the chunks hosts asked for; their count.
  std::size_t queue_auth(std::span<const std::pair<std::uint32_t, std::uint8_t>> requested);
  std::size_t tables() const;  // MIXED table packets of the round (one pass)
  // The MIXED packet of these parts (its payload in mix_).
  protocol::MixedPacket mixed(std::span<const Part> parts, std::uint32_t sequence);
  // Reads the part's symbol (from the file, or the round's parity) into sym_.
  std::span<const std::uint8_t> symbol(const Part& part);
  bool is_parity(const Part& part) const;

  const fec::BlockPlan& plan_;
  const protocol::io::InputFile& file_;
  std::uint16_t file_id_;
  std::unique_ptr<fec::Codec> codec_;
  // Per block: symbols assigned to rounds so far (the next ESI is sent_ mod 255), and when the
  // current round started. The round assigns block b's t in [start_[b], sent_[b]): first to its
  // single_[b] one-symbol packets, then to its parts of the MIXED packets in order.
  std::vector<std::uint32_t> sent_;
  std::vector<std::uint32_t> start_;
  std::vector<std::uint32_t> single_;
  // MIXED packet i sends parts_[packet_first_[i] .. packet_first_[i + 1]). Packets are
  // interleaved by lane (the block of their first part): lane b sends its single_[b] packets,
  // then the MIXED packets lanes_[lane_first_[b] ..].
  std::vector<Part> parts_;
  std::vector<std::uint32_t> packet_first_;
  std::vector<std::uint32_t> lanes_;
  std::vector<std::uint32_t> lane_first_;
  std::unique_ptr<fec::Interleaver> order_;
  // Parity symbols of this round by slot, in a scratch file: block b owns the slots from
  // parity_first_[b], in the order of t.
  protocol::io::ScratchFile parity_{"a round's parity symbols"};
  std::vector<std::uint64_t> parity_first_;
  std::vector<std::uint8_t> sym_;  // the symbol being sent
  std::vector<std::uint8_t> mix_;  // payload of the MIXED packet being built
  std::vector<std::array<std::uint8_t, 16>> mixed_hashes_;  // of this round's MIXED packets
  TableSigner sign_table_;
  std::size_t tables_sent_ = 0;  // table packets of this round sent (2 passes)
  const DataAuth* auth_ = nullptr;
  // (block, chunk) of every AUTH packet of the round in sending order, and how many went out.
  // The round's chunks, ascending, each sent once; a fresh one (first time, or asked for) is
  // then repeated (auth_copies_ - 1 more) after the other chunks of its window.
  struct AuthEntry {
    std::uint32_t block;
    std::uint8_t chunk;
    bool fresh;
  };
  std::vector<AuthEntry> auth_queue_;
  std::size_t auth_sent_ = 0;
  std::vector<std::pair<std::uint32_t, std::uint8_t>> auth_repeat_;
  std::size_t auth_repeated_ = 0;
  bool auth_by_window_ = false;
  std::optional<fec::BlockSymbol> held_;  // taken from order_ while its window's AUTH goes first
  // The next AUTH packet to send before a symbol of a block below `window_end`, if any.
  std::optional<std::pair<std::uint32_t, std::uint8_t>> next_auth(std::uint32_t window_end);
  std::vector<bool> chunk_sent_;  // by leaf index: sent in an earlier round
  RootsSource roots_;
  std::size_t roots_bytes_ = 0;
  std::optional<std::uint32_t> rooted_;  // the window whose ROOTS this round sent last
  std::uint32_t roots_left_ = 0;         // copies of its ROOTS still to send
  std::uint8_t roots_chunks_ = 0;        // the chunks of that window the round sends
  std::uint32_t auth_copies_ = 2;
  std::uint32_t roots_copies_ = 3;
};

}  // namespace fleetcast::sender
