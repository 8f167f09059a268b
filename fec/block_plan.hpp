#pragma once
// How an object is cut into source blocks: the block partitioning algorithm of RFC 5052 §9.1.
// T = ceil(size / S) source symbols go into N = ceil(T / k_max) blocks whose sizes differ by at
// most one symbol (the first I blocks get one more), so no block is a tiny, weakly protected
// tail. The last symbol of the object is zero-padded to S; the true size is object_size.

#include <cstdint>
#include <optional>

namespace fleetcast::fec {

// Source block numbers travel in 24 bits (protocol/README.md, "FEC info").
inline constexpr std::uint64_t kMaxBlocks = std::uint64_t{1} << 24;

class BlockPlan {
 public:
  // Returns nullopt when symbol_size is 0, max_k is 0 or above kMaxSourceSymbols, or the object
  // needs more than kMaxBlocks blocks. An empty object has zero blocks.
  static std::optional<BlockPlan> make(std::uint64_t object_size, std::uint32_t symbol_size,
                                       std::uint32_t max_k);

  std::uint64_t object_size() const { return object_size_; }
  std::uint32_t symbol_size() const { return symbol_size_; }
  std::uint32_t block_count() const { return block_count_; }
  std::uint64_t symbol_count() const { return symbol_count_; }

  // Source symbols in block sbn (precondition: sbn < block_count()).
  std::uint32_t source_symbols(std::uint32_t sbn) const {
    return sbn < large_blocks_ ? large_k_ : large_k_ - 1;
  }
  // Index of the block's first source symbol within the object.
  std::uint64_t first_symbol(std::uint32_t sbn) const;
  // Byte offset of the block within the object, and its true (unpadded) length.
  std::uint64_t block_offset(std::uint32_t sbn) const { return first_symbol(sbn) * symbol_size_; }
  std::uint64_t block_bytes(std::uint32_t sbn) const;

 private:
  std::uint64_t object_size_ = 0;
  std::uint32_t symbol_size_ = 0;
  std::uint32_t block_count_ = 0;
  std::uint64_t symbol_count_ = 0;
  std::uint32_t large_k_ = 0;       // A_large of RFC 5052
  std::uint32_t large_blocks_ = 0;  // I of RFC 5052
};

}  // namespace fleetcast::fec
