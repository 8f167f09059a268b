#pragma once
// Transmission order across blocks: symbol i of every block before symbol i+1 of any block, so a
// burst of B consecutive lost packets costs each of B different blocks one symbol instead of one
// block B symbols (which FEC sized for the average loss could not repair).

#include <cstdint>
#include <vector>

namespace fleetcast::fec {

struct BlockSymbol {
  std::uint32_t block;  // position in the counts vector given to Interleaver
  std::uint32_t index;  // i-th symbol to send for that block (the caller maps it to an ESI)
};

class Interleaver {
 public:
  // counts[b] = how many symbols block b sends in this pass (0 = none).
  explicit Interleaver(std::vector<std::uint32_t> counts);

  // Next symbol in transmission order; false when the pass is over. O(1) amortized.
  bool next(BlockSymbol& out);

  std::uint64_t total() const { return total_; }

 private:
  std::vector<std::uint32_t> counts_;
  std::vector<std::uint32_t> active_;  // blocks still sending at the current level
  std::vector<std::uint32_t> next_active_;
  std::uint32_t level_ = 0;
  std::size_t cursor_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace fleetcast::fec
