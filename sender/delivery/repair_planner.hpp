#pragma once
// What a repair round sends, from the hosts' NAKs (pure: no clock, no sockets).
//
// Blockwise repair pays, per block, for the WORST host: with 32 hosts at 5 % loss and k = 128,
// the worst of 32 binomial losses is about twice the mean, and that overshoot is paid on every
// block. Two rules bring the round's size toward what each host really lacks:
//
// * Dense blocks (more than half of the reporting hosts need them: typically every block after
//   round 0) are sized for a typical host, mean + kDenseSpread standard deviations of the needy
//   hosts' needs, not for the worst one. The hosts left short lack a few symbols of a few blocks.
// * Sparse blocks (the rest: the tail) are combined. One MIXED packet carries the sum of one
//   symbol of each of several blocks whose needy hosts are disjoint; each of those hosts holds
//   every other block of the packet, subtracts their symbols and keeps one fresh symbol of the
//   block it needs. A round then costs about the largest total any ONE host lacks, not the sum
//   of per-block maxima. Packing is greedy first-fit, largest blocks first.
//
// Each block gets repair_symbols(its sized need, loss) symbols, each in a different packet.

#include <cstdint>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "protocol/data.hpp"

namespace fleetcast::sender {

// Dense blocks: sized at the needy hosts' mean need + this many standard deviations. Simulated
// at 32 hosts, 5 % loss, k = 128: 0.5 gives the fewest packets in all (0 leaves too many hosts
// short, 1 approaches the worst-host sizing).
inline constexpr double kDenseSpread = 0.5;
// Margin over the expected loss, in standard deviations of the binomial loss of a round.
inline constexpr double kRepairMargin = 0.5;
// First-fit looks at most at this many open packets per block (bounds planning at 1,000 hosts).
inline constexpr std::size_t kPackScan = 2048;

// Symbols to send so that a host needing `need` more, losing a share `loss`, likely completes.
std::uint32_t repair_symbols(double need, double loss);

// One round's packets as block lists: packet i sends one symbol of each block in packet(i).
// Packets of one block are kept as runs (block, count), so a round that sends every symbol of
// a big file costs memory per block, not per packet; packets of several blocks are listed.
class RoundPackets {
 public:
  // `count` packets of one symbol of `block` each.
  void add_single(std::uint32_t block, std::uint32_t count);
  // One packet of one symbol of each of these blocks (a MIXED packet when several).
  void add(std::span<const std::uint32_t> blocks);

  std::size_t size() const { return single_packets() + multi_count(); }
  // Packet i: the single-block packets in the order added, then the multi-block ones.
  std::span<const std::uint32_t> packet(std::size_t i) const;

  struct Run {
    std::uint32_t block;
    std::uint32_t count;
  };
  std::span<const Run> singles() const { return singles_; }
  std::size_t single_packets() const { return single_packets_; }
  std::size_t multi_count() const { return first_.size() - 1; }
  std::span<const std::uint32_t> multi(std::size_t i) const {
    return std::span(blocks_).subspan(first_[i], first_[i + 1] - first_[i]);
  }

 private:
  std::vector<Run> singles_;
  std::size_t single_packets_ = 0;
  std::vector<std::uint32_t> blocks_;  // of the multi-block packets
  std::vector<std::uint32_t> first_{0};
};

struct RepairInput {
  const fec::BlockPlan* plan = nullptr;
  // Per reporting host: its NAK entries for the round (runs, may span several packets; blocks
  // past the plan are ignored). Hosts that did not report are not listed.
  std::span<const std::vector<protocol::NakEntry>> needs;
  double loss = 0;            // worst loss the hosts measured, 0..1
  std::size_t max_parts = 1;  // blocks per packet (1 = no MIXED packets)
};

RoundPackets plan_repair(const RepairInput& input);

}  // namespace fleetcast::sender
