#pragma once
// Transmission order across blocks: symbol i of every block before symbol i+1 of any block, so a
// burst of B consecutive lost packets costs each of B different blocks one symbol instead of one
// block B symbols (which FEC sized for the average loss could not repair). With a window of W
// blocks, the order is that within blocks 0..W-1, then within W..2W-1, and so on: a burst
// still costs a block one symbol per W packets, while the symbols a host writes and the blocks
// it completes move through the file window by window instead of all of it at once.

#include <cstdint>
#include <vector>

namespace fleetcast::fec {

struct BlockSymbol {
  std::uint32_t block;  // position in the counts vector given to Interleaver
  std::uint32_t index;  // i-th symbol to send for that block (the caller maps it to an ESI)
};

class Interleaver {
 public:
  // counts[b] = how many symbols block b sends in this pass (0 = none); window: blocks
  // interleaved together (default: all).
  explicit Interleaver(std::vector<std::uint32_t> counts, std::uint32_t window = UINT32_MAX);

  // Next symbol in transmission order; false when the pass is over. O(1) amortized.
  bool next(BlockSymbol& out);

  std::uint64_t total() const { return total_; }

 private:
  void start_window();  // the next window's blocks with symbols into active_, at level 0

  std::vector<std::uint32_t> counts_;
  std::uint32_t window_;
  std::size_t window_end_ = 0;         // first block past the current window
  std::vector<std::uint32_t> active_;  // blocks still sending at the current level
  std::vector<std::uint32_t> next_active_;
  std::uint32_t level_ = 0;
  std::size_t cursor_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace fleetcast::fec
