#pragma once
// Data-session packets: the paper's 12-byte header (seed 002, figure 7) and what follows it.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-------+-------+---------------+-------------------------------+
// |version| type  | length (=3)   |            file ID            |
// +-------+-------+---------------+-------------------------------+
// |                          sequence                             |
// +-----------------------------------------------+---------------+
// |          source block number (SBN)            |      ESI      |  <- FEC info
// +-----------------------------------------------+---------------+
//
// length counts 32-bit words of header (the paper's 8-bit byte count cannot hold a symbol);
// symbol packets (DATA, PARITY) carry the symbol after the header and nothing else, MIXED
// packets a part list and then the symbol; feedback
// packets (COMPLETE, NAK, ACK, ROUND) carry a body and a signed trailer:
//   session ID (8) | signer key ID (8) | body ... | Ed25519 signature (64)
// The signature covers kDataSignDomain and every byte before it. protocol/README.md has the rest.

#include <array>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/result.hpp"

namespace fleetcast::protocol {

enum class PacketType : std::uint8_t {
  data = 0,          // source symbol (the paper's type 0, unused as a notice)
  complete = 1,      // receiver -> sender: whole file verified and durable (paper: completion)
  nak = 2,           // receiver -> sender: symbols still needed per block (paper: retransmit)
  complete_ack = 3,  // sender -> group: these receivers' completion is recorded (paper)
  parity = 4,        // repair symbol (fleetcast)
  round = 5,         // sender -> group: end of a transmission round, NAK now (fleetcast)
  mixed = 6,         // cross-block repair: the sum of one symbol of each of several blocks
  auth = 7,          // symbol hashes of one chunk of a block, with their path to the root
  mixed_table = 8,   // sender -> group: hashes of the round's MIXED packets (signed)
  probe = 9,  // sender -> group: rate probe, hosts whose loss since the last one is high report
  loss_report = 10,  // receiver -> sender: loss between the last two probes (rate adaptation)
  roots = 11,        // sender -> group: the signed roots of one window's AUTH segments
};

// FEC info field: SBN in the high 24 bits, ESI in the low 8.
inline constexpr std::uint32_t kMaxSbn = (1u << 24) - 1;
constexpr std::uint32_t pack_fec_info(std::uint32_t sbn, std::uint8_t esi) {
  return sbn << 8 | esi;
}

// A source or parity symbol. `payload` points into the decoded datagram (no copy).
struct SymbolPacket {
  bool parity = false;
  std::uint16_t file_id = 0;
  std::uint32_t sequence = 0;  // transmission counter of the session (loss measurement)
  std::uint32_t sbn = 0;
  std::uint8_t esi = 0;
  std::span<const std::uint8_t> payload;
};

// Writes header + payload into out; returns the datagram length, or 0 when out is too small,
// the SBN exceeds 24 bits or the payload is outside kMinSymbolSize..kMaxSymbolSize.
std::size_t encode_symbol(const SymbolPacket& packet, std::span<std::uint8_t> out);

// Cross-block repair (fleetcast): payload = the sum (XOR: addition in GF(2^8)) of symbol ESI e_i
// of block SBN_i for each part i. The manager only combines blocks that no host needs two of,
// so a host that needs one of them computes the others' symbols from blocks it already decoded,
// subtracts them, and holds one more symbol of the block it needs. An ESI < k is the source
// symbol itself. FEC info carries the first part; the body lists the others; SBNs ascend.
struct SymbolId {
  std::uint32_t sbn = 0;
  std::uint8_t esi = 0;
  bool operator==(const SymbolId&) const = default;
};
inline constexpr std::size_t kMaxMixedParts = 16;

struct MixedPacket {
  std::uint16_t file_id = 0;
  std::uint32_t sequence = 0;
  std::array<SymbolId, kMaxMixedParts> parts{};
  std::uint8_t count = 0;  // parts in use: 2..kMaxMixedParts
  std::span<const std::uint8_t> payload;
  std::span<const SymbolId> ids() const { return std::span(parts.data(), count); }
};

// Datagram bytes of a MIXED packet with `parts` parts and S-byte symbols.
constexpr std::size_t mixed_datagram_bytes(std::size_t parts, std::size_t symbol_size) {
  return kHeaderBytes + 1 + 4 * (parts - 1) + symbol_size;
}
// Returns the datagram length, or 0 when out is too small, count is outside 2..kMaxMixedParts,
// SBNs do not strictly ascend or exceed 24 bits, or the payload size is out of range.
std::size_t encode_mixed(const MixedPacket& packet, std::span<std::uint8_t> out);

// Data authentication (data_auth.hpp): the hashes of ESIs chunk*51 .. chunk*51+50 of block
// SBN and the leaf's path to its segment's root (a ROOTS packet). FEC info: SBN, chunk (0..4).
//   header (12) | depth (1) | 51 symbol hashes (16 each) | depth path nodes (16 each)
struct AuthPacket {
  std::uint16_t file_id = 0;
  std::uint32_t sequence = 0;
  std::uint32_t sbn = 0;
  std::uint8_t chunk = 0;
  std::span<const std::uint8_t> hashes;  // kAuthChunkSymbols * kSymbolHashBytes
  std::span<const std::uint8_t> path;    // depth * kSymbolHashBytes
};
// A segment has at most kAuthWindowBlocks = 64 leaves: a path of at most 6 nodes.
inline constexpr std::size_t kMaxAuthDepth = 6;
std::size_t encode_auth(const AuthPacket& packet, std::span<std::uint8_t> out);

// --- feedback (signed) --------------------------------------------------------------------

struct Complete {
  std::uint16_t file_id = 0;
  Digest digest{};  // what the receiver verified
};

struct NakEntry {
  std::uint32_t first_block = 0;  // 24 bits
  std::uint8_t need = 0;          // more symbols each of these blocks needs to decode (1..255)
  std::uint16_t run = 1;          // blocks first_block .. first_block + run - 1 (1..65535)
  bool operator==(const NakEntry&) const = default;
};
// (1232 - 12 header - 16 trailer head - 2 loss - 2 count - 16 MAC - 64 signature) / 6 bytes.
inline constexpr std::size_t kMaxNakEntries = 186;
// Loss is reported in units of 1/10000 (0.01 %).
inline constexpr std::uint16_t kLossScale = 10000;
// A host answers a probe when its receive buffer is at least this full (per kLossScale), what
// ever its loss: it is falling behind the data.
inline constexpr std::uint16_t kBacklogReport = 2500;

// Data authentication: the AUTH chunks (bit c: chunk c) of a block that a host lacks while it
// holds symbols of them it could not check yet (the manager sends those chunks again).
struct ChunkRequest {
  std::uint32_t block = 0;  // 24 bits
  std::uint8_t chunks = 0;  // 1..31
  bool operator==(const ChunkRequest&) const = default;
};
inline constexpr std::size_t kMaxNakChunkRequests = 64;

struct Nak {
  std::uint16_t file_id = 0;
  std::uint32_t complete_prefix = 0;  // sequence field: every block below this one is decoded
  std::uint32_t round = 0;            // FEC info field: the round this NAK answers
  std::vector<NakEntry> entries;      // ascending, non-overlapping; empty only with requests
  // Share of the session's packets this host missed since it started listening, up to the end
  // of the last round (per kLossScale), from sequence numbers: the manager sizes repair by it
  // (a host that restarted does not count its outage as loss).
  std::uint16_t loss = 0;
  std::vector<ChunkRequest> chunk_requests{};  // ascending blocks; at most kMaxNakChunkRequests
};
// NAK body: loss (2) | count (2) | count × entry (6) [ | n (1) | n × ( block (3) | chunks (1) ) ]

// (1232 - 12 - 16 - 2 - 64) / 8 bytes per key ID.
inline constexpr std::size_t kMaxAckedHosts = 140;

struct CompleteAck {
  std::uint16_t file_id = 0;
  std::vector<KeyId> hosts;  // receivers whose COMPLETE the sender recorded
};

struct Round {
  std::uint16_t file_id = 0;
  std::uint32_t round = 0;          // FEC info field
  std::uint32_t next_sequence = 0;  // sequence field: first sequence number of the next round
  std::uint32_t nak_window_ms = 0;  // receivers spread their NAK uniformly over this window
};

// The hashes (mixed_hash) of MIXED packets the manager sends in round `round`: a host checks a
// MIXED packet against them before the subtraction, which costs a parity encode per part.
inline constexpr std::size_t kMaxMixedTableHashes = 70;
struct MixedTable {
  std::uint16_t file_id = 0;
  std::uint32_t round = 0;                           // FEC info field
  std::vector<std::array<std::uint8_t, 16>> hashes;  // 1..kMaxMixedTableHashes
};
std::array<std::uint8_t, 16> mixed_hash(const MixedPacket& packet);

// The roots of window `window`'s segments (data_auth.hpp), chunk c's when bit c of `chunks` is
// set, in ascending chunk order: a host checks AUTH packets of that window against them.
//   body: window (3) | chunks (1) | popcount(chunks) × root (32)
struct Roots {
  std::uint16_t file_id = 0;
  std::uint32_t window = 0;  // < 2^24
  std::uint8_t chunks = 0;   // 1 .. 2^kAuthChunksPerBlock - 1
  std::vector<Digest> roots;
  bool operator==(const Roots&) const = default;
};

// Rate adaptation (sender/rate/): while it streams, the manager sends a PROBE on the data group
// every few hundred milliseconds. A host measures the loss between two probes from sequence
// numbers; it answers with a LOSS-REPORT when that loss reaches `threshold` (unless it only
// repeats its last report, see `quiet`), or when the probe names it (the host that limited the
// rate last), after a random delay within the window.
struct Probe {
  std::uint16_t file_id = 0;
  std::uint32_t probe = 0;          // FEC info field: counts up within the session
  std::uint32_t next_sequence = 0;  // sequence field: the next data packet's sequence number
  std::uint32_t rate_kbit = 0;      // the rate from now on, kbit/s (0: unlimited); informative
  std::uint16_t threshold = 0;      // per kLossScale: report at or above this loss
  KeyId limiting;                   // reports whatever its loss (zero: nobody)
  std::uint16_t report_window_ms = 0;
  // A host whose loss stays within chance of what it last reported may skip this many probes
  // in a row (0: it reports every probe its loss reaches the threshold). Large fleets: the
  // manager reads a skipped report as the last one repeated.
  std::uint8_t quiet = 0;
  bool operator==(const Probe&) const = default;
};
struct LossReport {
  std::uint16_t file_id = 0;
  std::uint32_t probe = 0;     // FEC info field: the probe that ended the interval
  std::uint32_t sequence = 0;  // sequence field: that probe's next_sequence
  std::uint16_t loss = 0;      // per kLossScale, over the interval
  std::uint32_t expected = 0;  // packets the manager sent in the interval
  std::uint32_t received = 0;  // of them, packets this host took
  std::uint32_t since = 0;     // the probe that began the interval (the last one this host saw)
  // Per kLossScale: how full this host's receive buffer was when it read the probe. A host
  // that cannot keep up falls behind (its buffer fills) before it loses.
  std::uint16_t backlog = 0;
  // Milliseconds between this host reading probe `since` and this one: received / elapsed is
  // what it takes per second when it is behind (what arrives, otherwise).
  std::uint32_t elapsed_ms = 0;
  bool operator==(const LossReport&) const = default;
};
// `z` standard deviations of a random loss `loss` measured over `packets`, at least `least`
// (all per kLossScale): how far a loss report may move by chance. The manager judges reports
// by it, and a host stays silent while its loss moves less than the manager would act on.
std::int32_t loss_noise(double z, std::int32_t loss, std::uint32_t packets, std::int32_t least);

using Feedback =
    std::variant<Complete, Nak, CompleteAck, Round, MixedTable, Probe, LossReport, Roots>;

// Every feedback packet carries a MAC between its body and its signature: a host's (COMPLETE,
// NAK) keyed with its feedback MAC key (keys.hpp), the manager's (COMPLETE-ACK, ROUND,
// MIXED-TABLE, PROBE, ROOTS) with the fleet key (fleet_key.hpp). The MAC is checked before the
// signature.
inline constexpr std::size_t kFeedbackMacBytes = 16;
// A ROOTS packet of a whole window (all 5 segments): 272 bytes.
inline constexpr std::size_t kWindowRootsDatagram = kHeaderBytes + kSessionIdBytes + kKeyIdBytes +
                                                    4 + kAuthChunksPerBlock * sizeof(Digest) +
                                                    kFeedbackMacBytes + kSignatureBytes;

struct SignedFeedback {
  Feedback feedback;
  SessionId session;
  KeyId signer;
  std::array<std::uint8_t, kFeedbackMacBytes> mac{};
  std::span<const std::uint8_t> maced_bytes;  // what the MAC covers (into the datagram)
  Signature signature{};
  std::span<const std::uint8_t> signed_bytes;  // into the decoded datagram
};

// Encodes, MACs and signs into out; fails when a value is out of range or out is too small.
Result<std::size_t> encode_feedback(const Feedback& feedback, SessionId session,
                                    const SecretKey& key, std::span<std::uint8_t> out,
                                    const MacKey& mac);

// Any datagram of the data session. The signature of a feedback packet is NOT verified yet:
// look up the signer, then call verify_feedback.
using DataPacket = std::variant<SymbolPacket, MixedPacket, AuthPacket, SignedFeedback>;
Result<DataPacket> parse_data_packet(std::span<const std::uint8_t> datagram);
bool verify_feedback(const SignedFeedback& feedback, const PublicKey& key);
// The packet's MAC, in constant time.
bool check_mac(const SignedFeedback& feedback, const MacKey& key);

}  // namespace fleetcast::protocol
