#pragma once
// The manager's side of data authentication (protocol/data_auth.hpp): the hash of every symbol
// the session can send (the source symbols and, per block, the parity ESIs up to 254, encoded
// for this), and per window of blocks (protocol::kAuthWindowBlocks) the Merkle tree of each of
// its 5 segments (chunks), whose roots a signed ROOTS packet carries. A round sends a window's
// ROOTS and the AUTH packets of the chunks its symbols belong to before those symbols
// (round_layout.hpp).
//
// Nothing of this is computed before the session starts: worker threads (one per core) take
// the file's digest (a copy of the UPDATE carries it once it is taken) and, beside it, hash the
// windows at most kLookahead ahead of the one the sender last asked for. Of each window they
// hash the chunks `ahead` names (round 0's: the source symbols and the first parity ESIs); a
// chunk a repair round needs beyond them (ESIs past 152 at k = 128, a loss above about 15 %)
// is hashed when first asked for, and from then on ahead for every window. The sender waits
// only when it reaches what is not hashed yet: the first packet of a 1 GiB push no longer
// waits for about 2 GiB of hashing, a parity encode of every ESI and the digest (seconds of
// both cores), and a clean push never encodes the parity it never sends.
//
// The symbol hashes (16 bytes a symbol, 49 MB for a 4 GiB file) go to a scratch file and are
// read back per AUTH packet; memory holds one block per worker and the trees (about 0.1 % of
// the file).

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "protocol/io/random_access.hpp"

namespace fleetcast::sender {

class DataAuth {
 public:
  // Windows hashed ahead of the one last asked for (about 45 MB of file at S = 1400, k = 128).
  static constexpr std::uint32_t kLookahead = 4;
  static constexpr std::uint8_t kAllChunks = (1u << protocol::kAuthChunksPerBlock) - 1;
  using SegmentRoots = std::array<protocol::Digest, protocol::kAuthChunksPerBlock>;
  struct Roots {
    std::uint8_t chunks = 0;  // bit c: roots[c] is chunk c's root
    SegmentRoots roots{};
  };

  // Starts the workers and returns; `file` (zeros past its end pad the last symbol) must
  // outlive this. `ahead`: the chunks hashed ahead for every window (bit c: chunk c).
  // `before_digest` (if any) runs on the worker that takes the digest, before it does. A read
  // error is thrown by the call that waits for what it spoiled.
  DataAuth(const fec::BlockPlan& plan, const protocol::io::InputFile& file,
           std::uint8_t ahead = kAllChunks, std::function<void()> before_digest = {});
  ~DataAuth();  // stops and joins the workers
  DataAuth(const DataAuth&) = delete;
  DataAuth& operator=(const DataAuth&) = delete;

  // The chunks that hold ESIs below `esis` (round 0's k plus its proactive parity).
  static std::uint8_t chunks_below(std::uint32_t esis);

  // The file's BLAKE2b-256 (protocol::digest); waits for it.
  const protocol::Digest& digest() const;
  // The same, if it is taken within `wait` (0: only if it is already).
  std::optional<protocol::Digest> digest_within(std::chrono::milliseconds wait) const;
  std::uint32_t windows() const { return protocol::auth_windows(plan_.block_count()); }
  // The roots of window `window`'s segments hashed so far, `chunks` among them (waits).
  Roots roots(std::uint32_t window, std::uint8_t chunks) const;
  // Waits until `chunks` of every window are hashed (a relay checks all of them).
  void wait_all(std::uint8_t chunks = kAllChunks) const;
  // The AUTH packet of chunk `chunk` of block `sbn` into `out`; its length (0: out too small).
  // Waits for the chunk.
  std::size_t build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                    std::uint32_t sequence, std::span<std::uint8_t> out) const;
  // Bytes of the largest AUTH datagram of this session.
  std::size_t datagram_bytes() const;

 private:
  struct Window {
    std::uint8_t held = 0;   // chunks hashed
    std::uint8_t busy = 0;   // chunks a worker hashes now
    std::uint8_t asked = 0;  // chunks the sender waits for
    std::array<std::optional<protocol::AuthTree>, protocol::kAuthChunksPerBlock> trees;
    SegmentRoots roots{};
  };
  using Hashed = std::vector<std::pair<std::uint8_t, protocol::AuthTree>>;
  void work(const std::function<void()>* before_digest);
  // Under the lock: the window and chunks a worker should hash next (false: nothing now).
  bool next_job(std::uint32_t& window, std::uint8_t& chunks) const;
  Hashed hash_chunks(std::uint32_t w, std::uint8_t chunks) const;
  // Waits until window w's `chunks` are hashed (or a worker failed: rethrown), asking for them.
  const Window& wait_for(std::uint32_t w, std::uint8_t chunks) const;

  fec::BlockPlan plan_;
  const protocol::io::InputFile& file_;
  mutable protocol::io::ScratchFile hashes_{"the symbol hashes"};  // (block * 255 + ESI) * 16

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  protocol::Digest digest_{};
  bool digest_ready_ = false;
  mutable std::vector<Window> windows_;  // trees are set once and never change after
  mutable std::uint8_t ahead_;           // grows with what the sender asks for
  mutable std::uint32_t wanted_ = 0;     // the window the sender asked for last
  bool stop_ = false;
  std::exception_ptr failed_;
  std::vector<std::jthread> workers_;  // last: joined before the rest goes
};

}  // namespace fleetcast::sender
