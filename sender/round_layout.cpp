#include "sender/round_layout.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "sender/data_auth.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

std::uint8_t esi_of(std::uint32_t t) {
  return static_cast<std::uint8_t>(t % fec::kMaxEncodingSymbols);
}

}  // namespace

std::uint32_t auth_copies(double loss, bool measured) {
  if (!measured) return 2;
  if (!(loss > 0.01)) return 1;
  const double c = std::ceil(std::log(kAuthMissTarget) / std::log(std::min(loss, 0.9)));
  return static_cast<std::uint32_t>(std::clamp(c, 1.0, 4.0));
}

RoundLayout::RoundLayout(const fec::BlockPlan& plan, std::span<const std::uint8_t> file,
                         std::uint16_t file_id)
    : plan_(plan), file_(file), file_id_(file_id), codec_(fec::make_isal_codec()) {
  sent_.assign(plan_.block_count(), 0);
  mix_.resize(plan_.symbol_size());
}

// Gives each part the block's next ESI, each parity part a slot (a block's slots are contiguous,
// in ESI order, so encode_parity codes them in place), and each packet its lane (the block of
// its first part) for interleaving.
std::uint64_t RoundLayout::lay_out(
    const RoundPackets& packets, std::uint64_t per_datagram,
    std::span<const std::pair<std::uint32_t, std::uint8_t>> requested) {
  const std::uint32_t blocks = plan_.block_count();
  parts_.clear();
  packet_first_.assign(1, 0);
  parity_first_.assign(blocks + 1, 0);
  std::vector<std::uint32_t> lane_count(blocks, 0);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto blocks_of = packets.packet(i);
    for (const std::uint32_t b : blocks_of) {
      const auto esi = esi_of(sent_[b]++);
      parts_.push_back(Part{b, esi, 0});
      if (esi >= plan_.source_symbols(b)) ++parity_first_[b + 1];
    }
    packet_first_.push_back(static_cast<std::uint32_t>(parts_.size()));
    ++lane_count[blocks_of[0]];
    total += (blocks_of.size() > 1 ? p::mixed_datagram_bytes(blocks_of.size(), plan_.symbol_size())
                                   : p::kHeaderBytes + plan_.symbol_size()) +
             per_datagram;
  }
  for (std::uint32_t b = 0; b < blocks; ++b) parity_first_[b + 1] += parity_first_[b];
  slot_esi_.resize(parity_first_[blocks]);
  std::vector<std::uint32_t> free_slot(parity_first_.begin(), parity_first_.end() - 1);
  for (Part& part : parts_) {
    if (part.esi < plan_.source_symbols(part.block)) continue;
    part.slot = free_slot[part.block]++;
    slot_esi_[part.slot] = part.esi;
  }
  parity_.assign(slot_esi_.size() * plan_.symbol_size(), 0);

  // AUTH packets first: every chunk the round's symbols belong to or a host asked for once, then
  // the chunks sent for the first time or asked for again (auth_copies_ in all); a chunk sent
  // before comes once more with each later round that sends symbols of it.
  auth_queue_.clear();
  auth_sent_ = 0;
  if (auth_ != nullptr) {
    std::vector<std::pair<std::uint32_t, std::uint8_t>> chunks;
    for (const Part& part : parts_) chunks.emplace_back(part.block, p::auth_chunk_of(part.esi));
    std::vector<std::pair<std::uint32_t, std::uint8_t>> wanted(requested.begin(), requested.end());
    std::sort(wanted.begin(), wanted.end());
    chunks.insert(chunks.end(), wanted.begin(), wanted.end());
    std::sort(chunks.begin(), chunks.end());
    chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
    chunk_sent_.resize(std::size_t{blocks} * p::kAuthChunksPerBlock, false);
    std::vector<std::pair<std::uint32_t, std::uint8_t>> fresh;
    for (const auto& [b, c] : chunks) {
      auth_queue_.emplace_back(b, c);
      const std::size_t i = p::auth_leaf_index(b, c);
      const bool asked = std::binary_search(wanted.begin(), wanted.end(), std::pair(b, c));
      if (!chunk_sent_[i] || asked) fresh.emplace_back(b, c);
      chunk_sent_[i] = true;
    }
    for (std::uint32_t copy = 1; copy < auth_copies_; ++copy) {
      auth_queue_.insert(auth_queue_.end(), fresh.begin(), fresh.end());
    }
    total += auth_queue_.size() * (auth_->datagram_bytes() + per_datagram);
  }

  lane_first_.assign(blocks + 1, 0);
  for (std::uint32_t b = 0; b < blocks; ++b) lane_first_[b + 1] = lane_first_[b] + lane_count[b];
  lanes_.resize(packets.size());
  std::vector<std::uint32_t> fill(lane_first_.begin(), lane_first_.end() - 1);
  for (std::uint32_t i = 0; i < packets.size(); ++i) {
    lanes_[fill[parts_[packet_first_[i]].block]++] = i;
  }
  order_ = std::make_unique<fec::Interleaver>(std::move(lane_count));
  encode_parity();
  // The hash of every MIXED packet of the round, for the signed table hosts check them with.
  mixed_hashes_.clear();
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto parts =
        std::span(parts_).subspan(packet_first_[i], packet_first_[i + 1] - packet_first_[i]);
    if (parts.size() > 1) mixed_hashes_.push_back(p::mixed_hash(mixed(parts, 0)));
  }
  tables_sent_ = 0;
  if (sign_table_) total += 2 * tables() * (p::kMaxControlDatagram + per_datagram);
  return total;
}

std::size_t RoundLayout::tables() const {
  return (mixed_hashes_.size() + p::kMaxMixedTableHashes - 1) / p::kMaxMixedTableHashes;
}

// Encodes every parity symbol of the round, one codec call per block.
void RoundLayout::encode_parity() {
  const std::size_t s = plan_.symbol_size();
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    const std::uint32_t first = parity_first_[b];
    const std::uint32_t count = parity_first_[b + 1] - first;
    if (count == 0) continue;
    out.clear();
    for (std::uint32_t i = first; i < first + count; ++i) out.emplace_back(&parity_[i * s], s);
    src.clear();
    const std::uint64_t first_symbol = plan_.first_symbol(b);
    for (std::uint32_t j = 0; j < plan_.source_symbols(b); ++j) {
      src.emplace_back(&file_[(first_symbol + j) * s], s);
    }
    if (codec_->encode(src, std::span(slot_esi_).subspan(first, count), out) != fec::Status::ok) {
      throw std::logic_error("encode failed for a valid block");
    }
  }
}

p::MixedPacket RoundLayout::mixed(std::span<const Part> parts, std::uint32_t sequence) {
  const std::size_t s = plan_.symbol_size();
  p::MixedPacket m;
  m.file_id = file_id_;
  m.sequence = sequence;
  m.count = static_cast<std::uint8_t>(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) m.parts[i] = {parts[i].block, parts[i].esi};
  std::sort(m.parts.begin(), m.parts.begin() + m.count,
            [](const p::SymbolId& a, const p::SymbolId& b) { return a.sbn < b.sbn; });
  std::copy_n(symbol(parts[0]), s, mix_.begin());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    fec::add_symbol(mix_, fec::Symbol(symbol(parts[i]), s));
  }
  m.payload = mix_;
  return m;
}

const std::uint8_t* RoundLayout::symbol(const Part& part) const {
  const std::size_t s = plan_.symbol_size();
  return part.esi < plan_.source_symbols(part.block)
             ? &file_[(plan_.first_symbol(part.block) + part.esi) * s]
             : &parity_[part.slot * s];
}

std::optional<RoundLayout::Built> RoundLayout::build_next(std::uint32_t sequence,
                                                          std::span<std::uint8_t> out) {
  if (auth_sent_ < auth_queue_.size()) {
    const auto [block, chunk] = auth_queue_[auth_sent_++];
    const std::size_t n = auth_->build(block, chunk, file_id_, sequence, out);
    if (n == 0) throw std::logic_error("an AUTH packet does not encode");
    return Built{n, PacketKind::auth};
  }
  if (sign_table_ && tables_sent_ < 2 * tables()) {
    const std::size_t first = (tables_sent_++ % tables()) * p::kMaxMixedTableHashes;
    const auto batch =
        std::span(mixed_hashes_)
            .subspan(first, std::min(p::kMaxMixedTableHashes, mixed_hashes_.size() - first));
    const std::size_t n = sign_table_(batch, out);
    if (n == 0) throw std::logic_error("a MIXED table does not encode");
    return Built{n, PacketKind::table};
  }
  fec::BlockSymbol next{};
  if (!order_ || !order_->next(next)) return std::nullopt;
  const std::uint32_t packet = lanes_[lane_first_[next.block] + next.index];
  const std::size_t s = plan_.symbol_size();
  const auto parts = std::span(parts_).subspan(packet_first_[packet],
                                               packet_first_[packet + 1] - packet_first_[packet]);
  std::size_t n = 0;
  PacketKind kind = PacketKind::mixed;
  if (parts.size() == 1) {
    const Part& part = parts[0];
    const bool parity = part.esi >= plan_.source_symbols(part.block);
    kind = parity ? PacketKind::parity : PacketKind::source;
    n = p::encode_symbol(p::SymbolPacket{parity, file_id_, sequence, part.block, part.esi,
                                         std::span(symbol(part), s)},
                         out);
  } else {
    n = p::encode_mixed(mixed(parts, sequence), out);
  }
  if (n == 0) throw std::logic_error("a data packet does not encode");
  return Built{n, kind};
}

}  // namespace fleetcast::sender
