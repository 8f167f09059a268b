#include "fec/interleave.hpp"

namespace fleetcast::fec {

Interleaver::Interleaver(std::vector<std::uint32_t> counts) : counts_(std::move(counts)) {
  for (std::uint32_t b = 0; b < counts_.size(); ++b) {
    if (counts_[b] > 0) active_.push_back(b);
    total_ += counts_[b];
  }
}

bool Interleaver::next(BlockSymbol& out) {
  while (!active_.empty()) {
    if (cursor_ < active_.size()) {
      const std::uint32_t b = active_[cursor_++];
      if (counts_[b] > level_ + 1) next_active_.push_back(b);
      out = BlockSymbol{b, level_};
      return true;
    }
    active_.swap(next_active_);
    next_active_.clear();
    cursor_ = 0;
    ++level_;
  }
  return false;
}

}  // namespace fleetcast::fec
