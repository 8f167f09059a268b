#include "fec/block_plan.hpp"

#include <algorithm>

#include "fec/codec.hpp"

namespace fleetcast::fec {

std::optional<BlockPlan> BlockPlan::make(std::uint64_t object_size, std::uint32_t symbol_size,
                                         std::uint32_t max_k) {
  if (symbol_size == 0 || max_k == 0 || max_k > kMaxSourceSymbols) return std::nullopt;
  BlockPlan p;
  p.object_size_ = object_size;
  p.symbol_size_ = symbol_size;
  p.symbol_count_ = object_size / symbol_size + (object_size % symbol_size != 0 ? 1 : 0);
  const std::uint64_t blocks = (p.symbol_count_ + max_k - 1) / max_k;
  if (blocks > kMaxBlocks) return std::nullopt;
  p.block_count_ = static_cast<std::uint32_t>(blocks);
  if (blocks == 0) return p;
  const std::uint64_t large_k = (p.symbol_count_ + blocks - 1) / blocks;  // A_large <= max_k
  const std::uint64_t small_k = p.symbol_count_ / blocks;                 // A_small
  p.large_k_ = static_cast<std::uint32_t>(large_k);
  p.large_blocks_ = static_cast<std::uint32_t>(p.symbol_count_ - small_k * blocks);
  if (large_k == small_k) p.large_blocks_ = p.block_count_;  // all blocks equal
  return p;
}

std::uint64_t BlockPlan::first_symbol(std::uint32_t sbn) const {
  const std::uint64_t large = std::min(sbn, large_blocks_);
  const std::uint64_t small = sbn - large;
  return large * large_k_ + small * (large_k_ - 1);
}

std::uint64_t BlockPlan::block_bytes(std::uint32_t sbn) const {
  const std::uint64_t offset = block_offset(sbn);
  const std::uint64_t padded = std::uint64_t{source_symbols(sbn)} * symbol_size_;
  return std::min(padded, object_size_ - offset);
}

}  // namespace fleetcast::fec
