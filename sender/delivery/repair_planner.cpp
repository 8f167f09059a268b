#include "sender/delivery/repair_planner.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace fleetcast::sender {
namespace p = protocol;
namespace {

struct BlockNeed {
  std::uint32_t hosts = 0;  // hosts that need the block
  std::uint32_t max = 0;
  double sum = 0;
  double sum_sq = 0;
};

// Calls f(block, need) for every block an entry list names inside the plan.
template <typename F>
void each_need(const fec::BlockPlan& plan, const std::vector<p::NakEntry>& entries, F&& f) {
  for (const p::NakEntry& e : entries) {
    const std::uint64_t end =
        std::min<std::uint64_t>(std::uint64_t{e.first_block} + e.run, plan.block_count());
    for (std::uint64_t b = e.first_block; b < end; ++b) {
      const auto block = static_cast<std::uint32_t>(b);
      f(block, std::min<std::uint32_t>(e.need, plan.source_symbols(block)));
    }
  }
}

// Greedy first-fit of sparse blocks into MIXED packets whose blocks have disjoint needy hosts.
class Packer {
 public:
  Packer(std::size_t hosts, std::size_t max_parts)
      : words_((hosts + 63) / 64), max_parts_(max_parts) {}

  // Puts `count` symbols of `block` into distinct packets; `needy` = the hosts that need it.
  void place(std::uint32_t block, std::uint32_t count, std::span<const std::uint32_t> needy) {
    std::size_t scanned = 0;
    for (std::size_t i = 0; i < open_.size() && count > 0 && scanned < kPackScan; ++i) {
      Packet& pk = packets_[open_[i]];
      if (pk.n == max_parts_) continue;
      ++scanned;
      const std::uint64_t* mask = &masks_[open_[i] * words_];
      const bool disjoint = std::none_of(needy.begin(), needy.end(), [&](std::uint32_t h) {
        return (mask[h / 64] >> (h % 64)) & 1u;
      });
      if (!disjoint) continue;
      add(open_[i], block, needy);
      if (pk.n == max_parts_) ++full_;
      --count;
    }
    for (; count > 0; --count) {
      packets_.push_back(Packet{});
      masks_.resize(masks_.size() + words_, 0);
      open_.push_back(static_cast<std::uint32_t>(packets_.size() - 1));
      add(open_.back(), block, needy);
    }
    if (full_ * 2 > open_.size()) {  // drop full packets from the scan list now and then
      std::erase_if(open_, [&](std::uint32_t i) { return packets_[i].n == max_parts_; });
      full_ = 0;
    }
  }

  void emit(RoundPackets& out) const {
    for (const Packet& pk : packets_) out.add(std::span(pk.blocks.data(), pk.n));
  }

 private:
  struct Packet {
    std::array<std::uint32_t, p::kMaxMixedParts> blocks{};
    std::size_t n = 0;
  };
  void add(std::uint32_t packet, std::uint32_t block, std::span<const std::uint32_t> needy) {
    Packet& pk = packets_[packet];
    pk.blocks[pk.n++] = block;
    std::uint64_t* mask = &masks_[packet * words_];
    for (const std::uint32_t h : needy) mask[h / 64] |= std::uint64_t{1} << (h % 64);
  }

  std::size_t words_;
  std::size_t max_parts_;
  std::vector<Packet> packets_;
  std::vector<std::uint64_t> masks_;  // per packet: the hosts one of its blocks serves
  std::vector<std::uint32_t> open_;   // packets to try, oldest first
  std::size_t full_ = 0;              // full packets still in open_
};

}  // namespace

std::uint32_t repair_symbols(double need, double loss) {
  if (need <= 0) return 0;
  auto c = static_cast<std::uint32_t>(
      std::ceil((need + kRepairMargin * std::sqrt(need * loss)) / (1.0 - loss)));
  if (loss > 0 && need <= 2) ++c;  // one symbol short would cost a whole round
  return c;
}

void RoundPackets::add_single(std::uint32_t block, std::uint32_t count) {
  if (count == 0) return;
  if (!singles_.empty() && singles_.back().block == block) {
    singles_.back().count += count;
  } else {
    singles_.push_back(Run{block, count});
  }
  single_packets_ += count;
}

void RoundPackets::add(std::span<const std::uint32_t> blocks) {
  if (blocks.size() == 1) return add_single(blocks[0], 1);
  blocks_.insert(blocks_.end(), blocks.begin(), blocks.end());
  first_.push_back(static_cast<std::uint32_t>(blocks_.size()));
}

std::span<const std::uint32_t> RoundPackets::packet(std::size_t i) const {
  if (i >= single_packets_) return multi(i - single_packets_);
  for (const Run& r : singles_) {  // tests only: linear
    if (i < r.count) return std::span(&r.block, 1);
    i -= r.count;
  }
  return {};
}

RoundPackets plan_repair(const RepairInput& in) {
  const fec::BlockPlan& plan = *in.plan;
  const std::uint32_t blocks = plan.block_count();
  const bool mixing = in.max_parts >= 2;
  std::vector<BlockNeed> need(blocks);
  std::size_t reporting = 0;
  for (const auto& entries : in.needs) {
    if (entries.empty()) continue;
    ++reporting;

    each_need(plan, entries, [&](std::uint32_t b, std::uint32_t n) {
      BlockNeed& s = need[b];
      ++s.hosts;
      s.max = std::max(s.max, n);
      s.sum += n;
      s.sum_sq += double{1} * n * n;
    });
  }

  // Size every block; send dense ones as plain symbols.
  RoundPackets out;
  std::vector<std::uint32_t> count(blocks, 0);
  std::vector<std::uint32_t> sparse;
  for (std::uint32_t b = 0; b < blocks; ++b) {
    const BlockNeed& s = need[b];
    if (s.hosts == 0) continue;
    const bool dense = !mixing || 2 * s.hosts > reporting;
    double n = s.max;
    if (mixing && dense) {
      const double mean = s.sum / s.hosts;
      const double sd = std::sqrt(std::max(0.0, s.sum_sq / s.hosts - mean * mean));
      n = std::min(n, mean + kDenseSpread * sd);
    }
    count[b] = repair_symbols(n, in.loss);
    if (dense) {
      out.add_single(b, count[b]);
    } else {
      sparse.push_back(b);
    }
  }
  if (sparse.empty()) return out;

  // Needy hosts of each sparse block (compressed rows), then first-fit, largest blocks first.
  std::vector<std::uint32_t> row(blocks + 1, 0);
  for (const std::uint32_t b : sparse) row[b + 1] = need[b].hosts;
  for (std::uint32_t b = 0; b < blocks; ++b) row[b + 1] += row[b];
  std::vector<std::uint32_t> hosts(row[blocks]);
  std::vector<std::uint32_t> fill(row.begin(), row.end() - 1);
  std::uint32_t host = 0;
  for (const auto& entries : in.needs) {
    each_need(plan, entries, [&](std::uint32_t b, std::uint32_t) {
      if (fill[b] < row[b + 1]) hosts[fill[b]++] = host;
    });
    ++host;
  }
  std::sort(sparse.begin(), sparse.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (count[a] != count[b]) return count[a] > count[b];
    if (need[a].hosts != need[b].hosts) return need[a].hosts > need[b].hosts;
    return a < b;
  });
  Packer packer(in.needs.size(), std::min(in.max_parts, p::kMaxMixedParts));
  for (const std::uint32_t b : sparse) {
    packer.place(b, count[b], std::span(hosts).subspan(row[b], row[b + 1] - row[b]));
  }
  packer.emit(out);
  return out;
}

}  // namespace fleetcast::sender
