#pragma once
// The manager's side of data authentication (protocol/data_auth.hpp): the hash of every symbol
// the session can ever send (the source symbols and, per block, the parity ESIs up to 254,
// encoded once for this), and per window of blocks (protocol::kAuthWindowBlocks) the Merkle
// tree of each of its 5 segments, whose roots a signed ROOTS packet carries. A round sends a
// window's ROOTS and the AUTH packets of the chunks its symbols belong to before those symbols
// (round_layout.hpp).
//
// Nothing of this is computed before the session starts: worker threads (one per core) take
// the file's digest (a copy of the UPDATE carries it once it is taken) and, beside it, hash
// window after window, at most kLookahead windows ahead of the one the sender last asked for.
// The sender waits only when it reaches a window not hashed yet: the first packet of a 1 GiB
// push no longer waits for about 2 GiB of hashing, a parity encode of every ESI and the digest
// (seconds of both cores), and the work is spread over the push instead of bunched before it.
//
// Cost, the same in all as before: one parity encode of the whole ESI range and one BLAKE2b
// pass over about three times the file (the symbols, and the file's digest). The symbol hashes
// (16 bytes a symbol, 49 MB for a 4 GiB file) go to a scratch file and are read back per AUTH
// packet; memory holds one block per worker and the trees (about 0.1 % of the file).

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
  using SegmentRoots = std::array<protocol::Digest, protocol::kAuthChunksPerBlock>;

  // Starts the workers and returns; `file` (zeros past its end pad the last symbol) must
  // outlive this. A read error is thrown by the call that waits for what it spoiled.
  // `before_digest` (if any) runs on the worker that takes the digest, before it does.
  DataAuth(const fec::BlockPlan& plan, const protocol::io::InputFile& file,
           std::function<void()> before_digest = {});
  ~DataAuth();  // stops and joins the workers
  DataAuth(const DataAuth&) = delete;
  DataAuth& operator=(const DataAuth&) = delete;

  // The file's BLAKE2b-256 (protocol::digest); waits for it.
  const protocol::Digest& digest() const;
  // The same, if it is taken within `wait` (0: only if it is already).
  std::optional<protocol::Digest> digest_within(std::chrono::milliseconds wait) const;
  std::uint32_t windows() const { return protocol::auth_windows(plan_.block_count()); }
  // The roots of window `window`'s 5 segments; waits for the window.
  const SegmentRoots& roots(std::uint32_t window) const;
  // Waits until every window is hashed (a relay checks all of them before it repairs).
  void wait_all() const;
  // The AUTH packet of chunk `chunk` of block `sbn` into `out`; its length (0: out too small).
  // Waits for the block's window.
  std::size_t build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                    std::uint32_t sequence, std::span<std::uint8_t> out) const;
  // Bytes of the largest AUTH datagram of this session.
  std::size_t datagram_bytes() const;

 private:
  struct Window {
    std::vector<protocol::AuthTree> trees;  // by chunk
    SegmentRoots roots{};
  };
  void work(const std::function<void()>* before_digest);
  Window hash_window(std::uint32_t w);
  // Waits until window w is hashed (or a worker failed: rethrown); asks for it first.
  const Window& wait_window(std::uint32_t w) const;

  fec::BlockPlan plan_;
  const protocol::io::InputFile& file_;
  protocol::io::ScratchFile hashes_{"the symbol hashes"};  // (block * 255 + ESI) * 16

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  protocol::Digest digest_{};
  bool digest_ready_ = false;
  std::vector<std::unique_ptr<Window>> done_;  // by window, once hashed
  std::uint32_t next_ = 0;                     // the next window a worker takes
  mutable std::uint32_t wanted_ = 0;           // workers hash windows below wanted_ + kLookahead
  bool stop_ = false;
  std::exception_ptr failed_;
  std::vector<std::jthread> workers_;  // last: joined before the rest goes
};

}  // namespace fleetcast::sender
