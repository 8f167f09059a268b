#include "fec/interleave.hpp"

#include <algorithm>

namespace fleetcast::fec {

Interleaver::Interleaver(std::vector<std::uint32_t> counts, std::uint32_t window)
    : counts_(std::move(counts)), window_(std::max(window, 1u)) {
  for (const std::uint32_t c : counts_) total_ += c;
  start_window();
}

void Interleaver::start_window() {
  active_.clear();
  cursor_ = 0;
  level_ = 0;
  while (active_.empty() && window_end_ < counts_.size()) {
    const std::size_t first = window_end_;
    window_end_ = first + std::min<std::size_t>(window_, counts_.size() - first);
    for (std::size_t b = first; b < window_end_; ++b) {
      if (counts_[b] > 0) active_.push_back(static_cast<std::uint32_t>(b));
    }
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
    if (next_active_.empty()) {
      start_window();  // this window is done
      continue;
    }
    active_.swap(next_active_);
    next_active_.clear();
    cursor_ = 0;
    ++level_;
  }
  return false;
}

}  // namespace fleetcast::fec
