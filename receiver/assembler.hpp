#pragma once
// Reassembles one announced object into the spool directory, with resume.
//
// Source symbols are copied to their offset in <spool>/.<name>.part as they arrive (the part file
// is preallocated with posix_fallocate, so a full disk is a clean error when reception starts,
// and memory-mapped, so a symbol costs a copy instead of a system call); parity symbols are held
// in memory per incomplete block; a block with k distinct symbols is decoded in place. Which
// symbols are on disk is persisted in <state>/<name>.state (the part file is fdatasync'ed before
// the state that describes it is renamed into place), so a receiver killed at any moment resumes
// with what it had at its last checkpoint and never trusts data it did not write. finalize()
// verifies the digest and only then renames the file to <spool>/<name>.

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
#include "protocol/control.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"

namespace fleetcast::receiver {

using Clock = std::chrono::steady_clock;

// Symbols kept aside before their AUTH chunk came: at most this many bytes in all, and this
// many distinct copies of one ESI (so forged copies sent ahead of the real one do not push it
// out unless they come kMaxCandidates at a time).
inline constexpr std::size_t kMaxPendingBytes = 16 << 20;
inline constexpr std::size_t kMaxCandidates = 4;

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
};

class Assembler {
 public:
  // Opens or resumes. Throws std::runtime_error (with path and errno) when files cannot be used.
  Assembler(const protocol::Update& update, std::filesystem::path spool,
            std::filesystem::path state);
  Assembler(const Assembler&) = delete;
  Assembler& operator=(const Assembler&) = delete;
  ~Assembler();

  // forged: its hash (or an AUTH packet's path) does not match what the UPDATE committed to:
  // dropped. unverified: the hashes of its chunk have not arrived: the symbol is kept aside in
  // memory (kMaxPendingBytes, kMaxCandidates) and checked when the chunk comes.
  enum class Result { stored, duplicate, invalid, forged, unverified };
  // A symbol is stored only when its hash is the one its AUTH chunk lists.
  Result on_symbol(const protocol::SymbolPacket& packet);
  // Data authentication: the hashes of one chunk of a block, kept once their path leads to the
  // UPDATE's root, until the block is complete.
  Result on_auth(const protocol::AuthPacket& packet);
  // The signed table of round `round`'s MIXED packets (kept for the last 3 rounds): a MIXED
  // packet is subtracted only when its hash is listed.
  void allow_mixed(std::uint32_t round, std::span<const std::array<std::uint8_t, 16>> hashes);
  // Cross-block repair: when exactly one named block is incomplete, subtracts the symbols of the
  // others (all decoded: read back, parity re-encoded) and stores what remains as that block's
  // symbol. Nothing to learn (every block complete, or two missing) counts as a duplicate.
  Result on_mixed(const protocol::MixedPacket& packet);

  bool all_blocks() const { return complete_blocks_ == plan_.block_count(); }
  std::uint32_t complete_blocks() const { return complete_blocks_; }
  // Every block below this one is complete.
  std::uint32_t complete_prefix() const;
  // The object's first bytes, as far as the complete leading blocks reach (checked data).
  std::span<const std::uint8_t> received_prefix() const;
  // What each incomplete block still needs, as ascending runs; at most max_entries runs.
  // Symbols kept aside count as held: the chunk requests bring what checks them.
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
  // completion. Returns an error message, or nullopt on success.
  std::optional<std::string> finalize();
  bool finalized() const { return finalized_; }

  const AssemblerCounters& counters() const { return counters_; }
  const protocol::Update& update() const { return update_; }
  const std::filesystem::path& final_path() const { return final_path_; }

 private:
  struct Block {
    std::vector<bool> source;  // which source symbols are on disk
    std::uint32_t source_count = 0;
    std::map<std::uint8_t, std::vector<std::uint8_t>> parity;  // held in memory only
    bool complete = false;
    // Symbols kept aside until their chunk of hashes arrives, per ESI the distinct copies heard
    // (at most kMaxCandidates; never persisted).
    std::map<std::uint8_t, std::vector<std::vector<std::uint8_t>>> pending;
  };
  // The block is complete or already holds symbol esi (sbn < block_count()).
  bool holds(std::uint32_t sbn, std::uint8_t esi) const;
  void decode_block(std::uint32_t sbn);
  void block_complete(std::uint32_t sbn);  // drops its AUTH chunks and what waits for them
  // A checked symbol: stored (parity), marked (source, already in place); may complete or
  // decode the block.
  void accept(std::uint32_t sbn, std::uint8_t esi, std::vector<std::uint8_t> parity);
  // Checks the symbols kept aside for chunk `chunk` of block `sbn`, now that its hashes came.
  void check_pending(std::uint32_t sbn, std::uint8_t chunk);
  void load_state();
  void unmap();
  // Writes whole symbols into the part file from symbol index `first` (pwrite; throws).
  void write_symbols(std::size_t first, std::span<const std::uint8_t> bytes);
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
  const std::uint8_t* map_ = nullptr;  // the padded part file, shared read-only mapping
  std::size_t map_size_ = 0;
  std::vector<Block> blocks_;
  std::uint32_t complete_blocks_ = 0;
  bool dirty_ = false;
  bool finalized_ = false;
  std::unique_ptr<fec::Codec> codec_;
  std::vector<std::uint8_t> mix_;      // a MIXED packet's payload while it is being resolved
  std::vector<std::uint8_t> scratch_;  // one re-encoded parity symbol
  std::vector<std::uint8_t> decoded_;  // a block being decoded
  std::size_t pending_bytes_ = 0;
  std::map<std::array<std::uint8_t, 16>, std::uint32_t> allowed_mixed_;  // hash -> round
  // Checked AUTH chunks of incomplete blocks, by leaf index (data_auth.hpp).
  std::unordered_map<std::uint64_t, std::array<protocol::SymbolHash, protocol::kAuthChunkSymbols>>
      chunks_;
  AssemblerCounters counters_;
};

}  // namespace fleetcast::receiver
