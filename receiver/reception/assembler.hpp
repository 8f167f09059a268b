#pragma once
// Reassembles one announced object into the spool directory, with resume.
//
// Source symbols are written to their offset in <spool>/.<name>.part as they arrive (the part
// file is preallocated with posix_fallocate, so a full disk is a clean error when reception
// starts). A parity symbol is written into the slot of one of its block's missing source symbols
// (a block holding fewer than k symbols always has one free); a block with k distinct symbols is
// read back and decoded in place. The checked AUTH hashes go to an unlinked scratch file in the
// state directory. So memory holds a few words per block, one block while it is decoded, and
// the symbols kept aside for their hashes (kMaxPendingBytes), whatever the object's size. Which
// symbols are on disk is persisted in <state>/<name>.state (the part file is fdatasync'ed before
// the state that describes it is renamed into place), so a receiver killed at any moment resumes
// with what it had at its last checkpoint and never trusts data it did not write. finalize()
// verifies the digest (taken as the complete blocks reach it in order) and only then renames
// the file to <spool>/<name>.

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fec/block_plan.hpp"
#include "fec/codec.hpp"
#include "protocol/clock.hpp"
#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"
#include "protocol/signature.hpp"

namespace fleetcast::receiver {

using Clock = fleetcast::Clock;

// Symbols kept aside before their AUTH chunk came: at most this many bytes in all, and this
// many distinct copies of one ESI (so forged copies sent ahead of the real one do not push it
// out unless they come kMaxCandidates at a time).
inline constexpr std::size_t kMaxPendingBytes = 16 << 20;
inline constexpr std::size_t kMaxCandidates = 4;
// Checked AUTH chunks kept in memory (816 bytes each), and the most symbol bytes gathered into
// one write of the part file.
inline constexpr std::size_t kChunkCacheSlots = 1024;
inline constexpr std::size_t kWriteRunBytes = 256 << 10;

struct AssemblerCounters {
  std::uint64_t lacked_at_open = 0;    // source symbols missing when this process opened it
  std::uint64_t symbols_received = 0;  // every symbol packet for this object
  std::uint64_t symbols_useful = 0;    // stored source or held parity for an incomplete block
  std::uint64_t duplicates = 0;        // already held, or block already complete
  std::uint64_t blocks_decoded = 0;    // blocks that needed FEC
  std::uint64_t mixed_unusable = 0;    // MIXED packets naming two or more blocks still missing
  std::uint64_t forged = 0;            // symbols or AUTH packets that failed their check: dropped
  std::uint64_t unverified = 0;        // symbols that came before their chunk of hashes: kept aside
  std::uint64_t verified_late = 0;     // of those, checked and used when the chunk came
  std::uint64_t mixed_unlisted = 0;    // MIXED packets in no signed table: not subtracted
  std::uint64_t auth_chunks = 0;       // AUTH chunks checked and kept
  std::uint64_t auth_unrooted = 0;     // AUTH packets of a window whose roots had not come
};

// The signed roots of one window's AUTH segments (protocol::Roots) as far as they came, and the
// ROOTS packet that brought them (a relay sends it again on its LAN before its own AUTH).
struct WindowRoots {
  std::uint8_t held = 0;  // bit c: roots[c] came in a packet the manager signed
  std::array<protocol::Digest, protocol::kAuthChunksPerBlock> roots{};
  std::vector<std::uint8_t> datagram;
};

class Assembler {
 public:
  // Opens or resumes. Throws std::runtime_error (with path and errno) when files cannot be used.
  Assembler(const protocol::Update& update, std::filesystem::path spool,
            std::filesystem::path state);
  // What was received earlier under `name`, as its state records it: the object's digest
  // (zeros if not known when recorded), its session and size; nullopt: nothing recorded.
  struct Recorded {
    protocol::Digest digest{};
    protocol::SessionId session;
    std::uint64_t size = 0;
  };
  static std::optional<Recorded> recorded(const std::filesystem::path& state,
                                          const std::string& name);
  Assembler(const Assembler&) = delete;
  Assembler& operator=(const Assembler&) = delete;
  ~Assembler();

  // forged: its hash (or an AUTH packet's path) does not match what the UPDATE committed to:
  // dropped. unverified: the hashes of its chunk have not arrived: the symbol is kept aside in
  // memory (kMaxPendingBytes, kMaxCandidates) and checked when the chunk comes.
  enum class Result { stored, duplicate, invalid, forged, unverified };
  // A symbol is stored only when its hash is the one its AUTH chunk lists.
  Result on_symbol(const protocol::SymbolPacket& packet);
  // Data authentication: the roots of a window's segments, from a ROOTS packet whose signature
  // the caller checked (`datagram`: the packet as it came). A root already held is kept.
  void on_roots(const protocol::Roots& roots, std::span<const std::uint8_t> datagram);
  // The packet names a root this assembler lacks (else its signature need not be checked).
  bool wants_roots(const protocol::Roots& roots) const;
  // By window.
  const std::vector<WindowRoots>& roots() const { return roots_; }
  // The hashes of one chunk of a block, kept once their path leads to its segment's root,
  // until the block is complete. unverified: the window's roots have not come (dropped; the
  // chunk is asked for like one lost, and comes again after its window's ROOTS).
  Result on_auth(const protocol::AuthPacket& packet);
  // The signed table of round `round`'s MIXED packets (kept for the last 3 rounds): a MIXED
  // packet is subtracted only when its hash is listed.
  void allow_mixed(std::uint32_t round, std::span<const std::array<std::uint8_t, 16>> hashes);
  // Cross-block repair: when exactly one named block is incomplete, subtracts the symbols of the
  // others (all decoded: read back, parity re-encoded) and stores what remains as that block's
  // symbol. Nothing to learn (every block complete, or two missing) counts as a duplicate.
  Result on_mixed(const protocol::MixedPacket& packet);

  // The UPDATE's digest (all zeros: the manager had not taken it yet when it announced).
  bool digest_known() const { return update_.digest != protocol::Digest{}; }
  // A later copy of the UPDATE carries it: kept if none was known (true when it was taken).
  bool set_digest(const protocol::Digest& digest);

  bool all_blocks() const { return complete_blocks_ == plan_.block_count(); }
  std::uint32_t complete_blocks() const { return complete_blocks_; }
  // Every block below this one is complete.
  std::uint32_t complete_prefix() const;
  // The object's first bytes, as far as the complete leading blocks reach (checked data), at
  // most `max` of them.
  std::vector<std::uint8_t> received_prefix(std::size_t max) const;
  // What each incomplete block still needs, as ascending runs; at most max_entries runs.
  // Symbols kept aside count as held (the chunk requests bring what checks them) until this
  // session showed a forgery (a symbol that failed its hash, or two different copies of one
  // symbol): from then on only checked symbols count, so forged symbols for chunks the host
  // lacks cannot make its NAK say it needs nothing.
  std::vector<protocol::NakEntry> missing(std::size_t max_entries) const;
  // AUTH chunks of incomplete blocks that symbols kept aside wait for (ascending blocks).
  std::vector<protocol::ChunkRequest> missing_chunks(std::size_t max_requests) const;

  // Makes received data durable and records it (before exiting, on ABORT, on a new session).
  void checkpoint();
  // The same on a thread of its own (call periodically while receiving): fdatasync
  // of a part file on a busy disk takes hundreds of milliseconds, in which the receive loop
  // would not drain the socket. The state written names only blocks complete when it was
  // called. Skipped while the previous one still runs; its failure is thrown by the next call.
  void checkpoint_async();
  // Verifies the digest of the whole object; on success renames it into the spool and records
  // completion. Returns an error message, or nullopt on success. Call only once the digest is
  // known (digest_known()).
  std::optional<std::string> finalize();
  bool finalized() const { return finalized_; }

  const AssemblerCounters& counters() const { return counters_; }
  const protocol::Update& update() const { return update_; }
  const std::filesystem::path& final_path() const { return final_path_; }

 private:
  struct Block {
    std::vector<bool> source;  // which source symbols are on disk
    std::uint32_t source_count = 0;
    // Parity symbols held, as (ESI, slot): each is in the part file at the place of source
    // symbol `slot`, one the block still lacks (never recorded in the state: lost on restart).
    std::vector<std::pair<std::uint8_t, std::uint8_t>> parity;
    bool complete = false;
    // Symbols kept aside until their chunk of hashes arrives, per ESI the distinct copies heard
    // (at most kMaxCandidates; never persisted).
    std::map<std::uint8_t, std::vector<std::vector<std::uint8_t>>> pending;
  };
  // The block is complete or already holds symbol esi (sbn < block_count()).
  bool holds(std::uint32_t sbn, std::uint8_t esi) const;
  void decode_block(std::uint32_t sbn);
  // Drops its AUTH chunks and what waits for them; takes the digest as far as it can.
  void block_complete(std::uint32_t sbn);
  // Feeds the complete blocks from digest_at_ on, in order, to the running digest (read back
  // while they are still in the page cache): finalize() is left with no whole-file pass.
  void advance_digest();
  // A checked symbol: written to the part file (a parity symbol into a free slot), recorded;
  // may complete or decode the block.
  void accept(std::uint32_t sbn, std::uint8_t esi, std::span<const std::uint8_t> symbol);
  // The checked hash of (sbn, esi), or nullopt while its AUTH chunk has not come.
  std::optional<protocol::SymbolHash> expected_hash(std::uint32_t sbn, std::uint8_t esi) const;
  using ChunkHashes = std::array<protocol::SymbolHash, protocol::kAuthChunkSymbols>;
  // The hashes of a checked chunk: from the cache, else read from the scratch file into it.
  const ChunkHashes& chunk_hashes(std::uint64_t leaf) const;
  // Checks the symbols kept aside for chunk `chunk` of block `sbn`, now that its hashes came.
  void check_pending(std::uint32_t sbn, std::uint8_t chunk);
  void load_state();
  // Writes / reads whole symbols of the part file from symbol index `first` (throw). Writes
  // that continue the previous one are gathered (up to kWriteRunBytes) and reach the file in
  // one pwrite: by the next read, checkpoint, finalize, or a write elsewhere.
  void write_symbols(std::uint64_t first, std::span<const std::uint8_t> bytes);
  void flush_writes() const;
  void read_symbols(std::uint64_t first, std::span<std::uint8_t> out) const;
  void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // The state file's bytes for the blocks as they are now.
  std::vector<std::uint8_t> state_bytes() const;
  // Waits for the background checkpoint; throws its failure when `rethrow`.
  void wait_for_sync(bool rethrow);
  std::future<std::string> syncing_;  // checkpoint_async: "" or what failed

  protocol::Update update_;
  fec::BlockPlan plan_;
  std::filesystem::path part_path_;
  std::filesystem::path final_path_;
  std::filesystem::path state_path_;
  int fd_ = -1;
  std::uint64_t part_size_ = 0;  // the object padded to whole symbols
  std::vector<Block> blocks_;
  std::uint32_t complete_blocks_ = 0;
  bool dirty_ = false;
  bool finalized_ = false;
  std::unique_ptr<fec::Codec> codec_;
  std::vector<std::uint8_t> mix_;      // a MIXED packet's payload while it is being resolved
  std::vector<std::uint8_t> scratch_;  // one re-encoded parity symbol, or a symbol read back
  std::vector<std::uint8_t> block_;    // a block read back (decode, MIXED re-encode)
  std::vector<std::uint8_t> decoded_;  // a block being decoded
  std::unique_ptr<protocol::Hasher> running_;  // the digest of blocks [0, digest_at_)
  std::uint32_t digest_at_ = 0;
  std::vector<std::uint8_t> digest_buf_;  // a complete block read back for the digest
  std::size_t pending_bytes_ = 0;
  bool forgery_seen_ = false;                                            // see missing()
  std::map<std::array<std::uint8_t, 16>, std::uint32_t> allowed_mixed_;  // hash -> round
  // Checked AUTH chunks by leaf index (data_auth.hpp): which came, and their hashes (at leaf
  // index x 51 x 16 in the scratch file).
  std::vector<bool> chunk_held_;
  std::vector<WindowRoots> roots_;  // by window
  std::filesystem::path state_dir_;
  std::unique_ptr<protocol::io::ScratchFile> chunk_hashes_;  // made by the first chunk
  // The chunks checked or read last, direct-mapped by leaf index (kChunkCacheSlots): a symbol
  // finds its hash without a system call (the symbols of a chunk come together).
  struct CachedChunk {
    std::uint64_t leaf = UINT64_MAX;
    ChunkHashes hashes;
  };
  mutable std::vector<CachedChunk> chunk_cache_;
  // Symbols written and not yet in the part file (a read of it writes them first: mutable).
  std::unique_ptr<protocol::io::GatheredWrites> writes_;
  AssemblerCounters counters_;
};

}  // namespace fleetcast::receiver
