// Tests for fec/block_plan.hpp: RFC 5052 §9.1 partitioning, padding and limits.

#include "fec/block_plan.hpp"

#include <gtest/gtest.h>

#include "fec/codec.hpp"

namespace fleetcast::fec {
namespace {

// Blocks cover every symbol once, in order, and differ in size by at most one symbol.
TEST(BlockPlan, PartitionCoversObjectEvenly) {
  for (std::uint64_t size :
       {1ull, 1399ull, 1400ull, 1401ull, 280000ull, 280001ull, 64ull << 20, 1000003ull}) {
    auto plan = BlockPlan::make(size, 1400, 200);
    ASSERT_TRUE(plan);
    std::uint64_t symbols = 0;
    std::uint64_t bytes = 0;
    std::uint32_t lo = 255, hi = 0;
    for (std::uint32_t b = 0; b < plan->block_count(); ++b) {
      EXPECT_EQ(plan->first_symbol(b), symbols);
      EXPECT_EQ(plan->block_offset(b), bytes);
      symbols += plan->source_symbols(b);
      bytes += plan->block_bytes(b);
      lo = std::min(lo, plan->source_symbols(b));
      hi = std::max(hi, plan->source_symbols(b));
    }
    EXPECT_EQ(symbols, plan->symbol_count());
    EXPECT_EQ(symbols, (size + 1399) / 1400);
    EXPECT_EQ(bytes, size);
    EXPECT_LE(hi - lo, 1u);
    EXPECT_LE(hi, 200u);
  }
}

// A worked example: 401 symbols with k_max 200 -> 3 blocks of 134, 134, 133 (not 200, 200, 1).
TEST(BlockPlan, AvoidsTinyTailBlock) {
  auto plan = BlockPlan::make(401 * 100 - 50, 100, 200);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->block_count(), 3u);
  EXPECT_EQ(plan->source_symbols(0), 134u);
  EXPECT_EQ(plan->source_symbols(1), 134u);
  EXPECT_EQ(plan->source_symbols(2), 133u);
  EXPECT_EQ(plan->block_bytes(2), 133u * 100 - 50);  // last symbol padded, true size recorded
}

// An empty object has no blocks; invalid parameters and oversize objects are refused.
TEST(BlockPlan, LimitsAndEdges) {
  auto empty = BlockPlan::make(0, 1400, 200);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->block_count(), 0u);
  EXPECT_FALSE(BlockPlan::make(10, 0, 200));
  EXPECT_FALSE(BlockPlan::make(10, 1400, 0));
  EXPECT_FALSE(BlockPlan::make(10, 1400, kMaxSourceSymbols + 1));
  EXPECT_TRUE(BlockPlan::make(kMaxBlocks * 10, 1, 10));
  EXPECT_FALSE(BlockPlan::make(kMaxBlocks * 10 + 1, 1, 10));
}

}  // namespace
}  // namespace fleetcast::fec
