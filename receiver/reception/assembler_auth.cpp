#include <bit>
#include <cstring>

#include "receiver/reception/assembler.hpp"

// What the assembler checks symbols against (protocol/README.md, "Authenticated data"): the
// roots of each window's segments from the manager's signed ROOTS packets, the AUTH chunks
// whose paths lead to them, and the symbols kept aside until their chunk came.

namespace fleetcast::receiver {
namespace p = protocol;

bool Assembler::wants_roots(const p::Roots& roots) const {
  return roots.window < roots_.size() && (roots.chunks & ~roots_[roots.window].held) != 0;
}

void Assembler::on_roots(const p::Roots& roots, std::span<const std::uint8_t> datagram) {
  if (!wants_roots(roots)) return;
  WindowRoots& w = roots_[roots.window];
  std::size_t i = 0;
  for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
    if ((roots.chunks & (1u << c)) == 0) continue;
    if ((w.held & (1u << c)) == 0) w.roots[c] = roots.roots[i];
    ++i;
  }
  // The packet that holds the most of the window's roots is the one to send again.
  if (std::popcount(roots.chunks) > std::popcount(static_cast<unsigned>(w.held)) ||
      w.datagram.empty()) {
    w.datagram.assign(datagram.begin(), datagram.end());
  }
  w.held = static_cast<std::uint8_t>(w.held | roots.chunks);
}

Assembler::Result Assembler::on_auth(const p::AuthPacket& packet) {
  if (packet.sbn >= plan_.block_count() || packet.chunk >= p::kAuthChunksPerBlock) {
    return Result::invalid;
  }
  const std::uint64_t index = p::auth_leaf_index(packet.sbn, packet.chunk);
  if (blocks_[packet.sbn].complete || chunk_held_[index]) return Result::duplicate;
  const std::uint32_t window = p::auth_window_of(packet.sbn);
  if ((roots_[window].held & (1u << packet.chunk)) == 0) {
    ++counters_.auth_unrooted;
    return Result::unverified;
  }
  std::array<p::SymbolHash, p::kAuthChunkSymbols> hashes;
  std::memcpy(hashes.data(), packet.hashes.data(), sizeof hashes);
  std::array<p::SymbolHash, p::kMaxAuthDepth> path;
  const std::size_t depth = packet.path.size() / p::kSymbolHashBytes;
  std::memcpy(path.data(), packet.path.data(), depth * p::kSymbolHashBytes);
  if (!p::verify_auth_path(
          roots_[window].roots[packet.chunk], p::auth_window_blocks(plan_.block_count(), window),
          packet.sbn % p::kAuthWindowBlocks, p::auth_leaf(packet.sbn, packet.chunk, hashes),
          std::span(path.data(), depth))) {
    ++counters_.forged;
    forgery_seen_ = true;
    return Result::forged;
  }
  if (!chunk_hashes_) {
    chunk_hashes_ = std::make_unique<p::io::ScratchFile>("the checked AUTH hashes", state_dir_);
  }
  chunk_hashes_->write(
      index * sizeof hashes,
      std::span(reinterpret_cast<const std::uint8_t*>(hashes.data()), sizeof hashes));
  chunk_held_[index] = true;
  if (chunk_cache_.empty()) chunk_cache_.resize(kChunkCacheSlots);
  chunk_cache_[index % kChunkCacheSlots] = CachedChunk{index, hashes};
  ++counters_.auth_chunks;
  check_pending(packet.sbn, packet.chunk);
  return Result::stored;
}

std::optional<p::SymbolHash> Assembler::expected_hash(std::uint32_t sbn, std::uint8_t esi) const {
  const std::uint64_t leaf = p::auth_leaf_index(sbn, p::auth_chunk_of(esi));
  if (!chunk_held_[leaf]) return std::nullopt;
  return chunk_hashes(leaf)[esi % p::kAuthChunkSymbols];
}

const Assembler::ChunkHashes& Assembler::chunk_hashes(std::uint64_t leaf) const {
  if (chunk_cache_.empty()) chunk_cache_.resize(kChunkCacheSlots);
  CachedChunk& slot = chunk_cache_[leaf % kChunkCacheSlots];
  if (slot.leaf != leaf) {
    chunk_hashes_->read(
        leaf * sizeof slot.hashes,
        std::span(reinterpret_cast<std::uint8_t*>(slot.hashes.data()), sizeof slot.hashes));
    slot.leaf = leaf;
  }
  return slot.hashes;
}

void Assembler::check_pending(std::uint32_t sbn, std::uint8_t chunk) {
  const ChunkHashes hashes = chunk_hashes(p::auth_leaf_index(sbn, chunk));
  const std::uint32_t first = std::uint32_t{chunk} * p::kAuthChunkSymbols;
  for (std::uint32_t e = first; e < first + p::kAuthChunkSymbols; ++e) {
    Block& b = blocks_[sbn];
    if (b.complete) return;  // block_complete() dropped what waited
    const auto esi = static_cast<std::uint8_t>(e);
    auto node = b.pending.extract(esi);
    if (node.empty()) continue;
    bool found = false;
    for (auto& copy : node.mapped()) {
      pending_bytes_ -= copy.size();
      if (found || p::symbol_hash(sbn, esi, copy) != hashes[e - first]) {
        if (!found) {
          ++counters_.forged;
          forgery_seen_ = true;
        }
        continue;
      }
      found = true;
      ++counters_.verified_late;
      ++counters_.symbols_useful;
      accept(sbn, esi, copy);
    }
  }
}

std::vector<p::ChunkRequest> Assembler::missing_chunks(std::size_t max_requests) const {
  std::vector<p::ChunkRequest> out;
  for (std::uint32_t b = 0; b < blocks_.size() && out.size() < max_requests; ++b) {
    const Block& blk = blocks_[b];
    if (blk.complete || blk.pending.empty()) continue;
    unsigned mask = 0;
    for (const auto& [esi, copies] : blk.pending) {
      const std::uint8_t c = p::auth_chunk_of(esi);
      if (!chunk_held_[p::auth_leaf_index(b, c)]) mask |= 1u << c;
    }
    if (mask != 0) out.push_back(p::ChunkRequest{b, static_cast<std::uint8_t>(mask)});
  }
  return out;
}

}  // namespace fleetcast::receiver
