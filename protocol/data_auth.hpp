#pragma once
// Data authentication (protocol/README.md, "Authenticated data"): every symbol the session can
// send is known before it is sent (the file's source symbols and each block's parity ESIs up to
// 254), so the manager hashes them and commits to the hashes with Merkle roots it signs in ROOTS
// packets (data.hpp), one per window of kAuthWindowBlocks blocks, each listing the roots of the
// window's chunks. A window's hashes and roots are computed just before the window is first
// sent, not before the session: the signed UPDATE waits only for the file's digest.
// AUTH packets deliver the hashes in chunks of kAuthChunkSymbols consecutive ESIs of one block,
// each with its path to its segment's root: a host checks a chunk with a few small hashes (no
// signature), then every symbol of that chunk with one 16-byte BLAKE2b hash before it touches
// the assembler. A forged symbol, or a forged AUTH packet, is dropped on arrival; nothing an
// attacker sends can poison a block.
//
//   symbol hash  = BLAKE2b-128(0x03 | SBN (4) | ESI (1) | symbol)
//   leaf         = BLAKE2b-128(0x00 | SBN (4) | chunk (1) | 51 symbol hashes)
//   inner node   = BLAKE2b-128(0x01 | left | right)      (an odd last node is carried up as is)
//   root         = BLAKE2b-256(0x02 | top node | leaf count (8))
// A segment is (window w, chunk c): its leaves are chunk c of blocks 64w, 64w+1, ... of the
// window, in order (5 chunks of 51 = 255 ESIs per block, so a window has 5 segments).

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "protocol/signature.hpp"

namespace fleetcast::protocol {

inline constexpr std::size_t kSymbolHashBytes = 16;
inline constexpr std::uint32_t kAuthChunkSymbols = 51;
inline constexpr std::uint32_t kAuthChunksPerBlock = 5;  // 5 x 51 = 255 ESIs

using SymbolHash = std::array<std::uint8_t, kSymbolHashBytes>;

SymbolHash symbol_hash(std::uint32_t sbn, std::uint8_t esi, std::span<const std::uint8_t> symbol);
SymbolHash auth_leaf(std::uint32_t sbn, std::uint8_t chunk, std::span<const SymbolHash> hashes);
inline std::uint64_t auth_leaf_index(std::uint32_t sbn, std::uint8_t chunk) {
  return std::uint64_t{sbn} * kAuthChunksPerBlock + chunk;
}
inline std::uint8_t auth_chunk_of(std::uint8_t esi) {
  return static_cast<std::uint8_t>(esi / kAuthChunkSymbols);
}

// Blocks per window: a segment's tree has at most 64 leaves (an AUTH path of at most 6 nodes).
inline constexpr std::uint32_t kAuthWindowBlocks = 64;
inline std::uint32_t auth_window_of(std::uint32_t sbn) {
  return sbn / kAuthWindowBlocks;
}
inline std::uint32_t auth_windows(std::uint32_t block_count) {
  return (block_count + kAuthWindowBlocks - 1) / kAuthWindowBlocks;
}
// Leaves of window w's segments: its blocks.
inline std::uint32_t auth_window_blocks(std::uint32_t block_count, std::uint32_t window) {
  const std::uint32_t first = window * kAuthWindowBlocks;
  return first >= block_count ? 0 : std::min(kAuthWindowBlocks, block_count - first);
}

// The manager's tree over the leaves of one segment.
class AuthTree {
 public:
  explicit AuthTree(std::vector<SymbolHash> leaves);
  const Digest& root() const { return root_; }
  std::uint64_t leaf_count() const { return levels_.front().size(); }
  // Siblings from the leaf up (levels where the node has none are skipped).
  std::vector<SymbolHash> path(std::uint64_t leaf) const;

 private:
  std::vector<std::vector<SymbolHash>> levels_;  // levels_[0]: the leaves
  Digest root_{};
};

// The leaf at `index` of `leaf_count` leaves, with `path`, leads to `root`.
bool verify_auth_path(const Digest& root, std::uint64_t leaf_count, std::uint64_t index,
                      const SymbolHash& leaf, std::span<const SymbolHash> path);

}  // namespace fleetcast::protocol
