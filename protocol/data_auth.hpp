#pragma once
// Data authentication (protocol/README.md, "Authenticated data"): every symbol the session can
// send is known before it starts (the file's source symbols and each block's parity ESIs up to
// 254), so the manager hashes all of them and commits to the hashes with one Merkle root that
// the signed UPDATE carries (`auth=`). AUTH packets deliver the hashes in chunks of
// kAuthChunkSymbols consecutive ESIs of one block, each with its path to the root: a host
// checks a chunk with a few small hashes (no signature), then every symbol of that chunk with
// one 16-byte BLAKE2b hash before it touches the assembler. A forged symbol, or a forged AUTH
// packet, is dropped on arrival; nothing an attacker sends can poison a block.
//
//   symbol hash  = BLAKE2b-128(0x03 | SBN (4) | ESI (1) | symbol)
//   leaf         = BLAKE2b-128(0x00 | SBN (4) | chunk (1) | 51 symbol hashes)
//   inner node   = BLAKE2b-128(0x01 | left | right)      (an odd last node is carried up as is)
//   root         = BLAKE2b-256(0x02 | top node | leaf count (8))
// Leaves in order: block 0 chunks 0..4, block 1 chunks 0..4, ... (5 chunks of 51 = 255 ESIs).

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

// The manager's tree over every leaf of a session.
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
