#pragma once
// The packets of one transmission round, in the order they go on the wire. Per block, the t-th
// symbol ever sent has ESI t mod 255, so round 0 sends the k source symbols (and the proactive
// parity), and each repair round continues with parity indices never sent before: one repair
// symbol serves every host that misses any symbol of that block. Packets are interleaved across
// blocks (fec/interleave.hpp) so a loss burst spreads over many blocks. A packet of several
// blocks is a MIXED packet: the sum of one symbol of each.
//
// Owns the round's parity symbols; reads the file's source symbols in place.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fec/block_plan.hpp"
#include "fec/codec.hpp"
#include "fec/interleave.hpp"
#include "sender/repair_planner.hpp"

namespace fleetcast::sender {

enum class PacketKind { source, parity, mixed };

class RoundLayout {
 public:
  // `file`: the whole object padded to whole symbols; it must outlive the layout.
  RoundLayout(const fec::BlockPlan& plan, std::span<const std::uint8_t> file,
              std::uint16_t file_id);

  // Lays out a round: gives each part its block's next ESI and each packet its place in the
  // interleaved order, and encodes every parity symbol the round sends. Returns the round's
  // wire bytes (each datagram plus `per_datagram`).
  std::uint64_t lay_out(const RoundPackets& packets, std::uint64_t per_datagram);

  struct Built {
    std::size_t bytes;
    PacketKind kind;
  };
  // Builds the round's next packet into `out` with this sequence number; nullopt when the round
  // has been sent. Throws std::logic_error when a packet does not encode (a bug).
  std::optional<Built> build_next(std::uint32_t sequence, std::span<std::uint8_t> out);

 private:
  // One symbol of a packet of the current round.
  struct Part {
    std::uint32_t block;
    std::uint8_t esi;
    std::uint32_t slot;  // parity symbols: index into parity_
  };
  void encode_parity();
  const std::uint8_t* symbol(const Part& part) const;

  const fec::BlockPlan& plan_;
  std::span<const std::uint8_t> file_;
  std::uint16_t file_id_;
  std::unique_ptr<fec::Codec> codec_;
  // Per block: symbols assigned to rounds so far (the next ESI is sent_ mod 255).
  std::vector<std::uint32_t> sent_;
  // Packet i sends parts_[packet_first_[i] .. packet_first_[i + 1]); packets are interleaved by
  // lane (the block of their first part): lane b = lanes_[lane_first_[b] ..].
  std::vector<Part> parts_;
  std::vector<std::uint32_t> packet_first_;
  std::vector<std::uint32_t> lanes_;
  std::vector<std::uint32_t> lane_first_;
  std::unique_ptr<fec::Interleaver> order_;
  // Parity symbols of this round by slot; block b owns slots parity_first_[b] .. [b + 1].
  std::vector<std::uint8_t> parity_;
  std::vector<std::uint32_t> parity_first_;
  std::vector<std::uint8_t> slot_esi_;
  std::vector<std::uint8_t> mix_;  // payload of the MIXED packet being built
};

}  // namespace fleetcast::sender
