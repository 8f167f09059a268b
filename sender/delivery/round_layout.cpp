#include "sender/delivery/round_layout.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "protocol/data.hpp"
#include "protocol/data_auth.hpp"
#include "sender/delivery/data_auth.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace {

// In the AUTH queue, in place of a chunk: the ROOTS packet of the block's window.
constexpr std::uint8_t kRootsMark = 0xff;

std::uint8_t esi_of(std::uint32_t t) {
  return static_cast<std::uint8_t>(t % fec::kMaxEncodingSymbols);
}

// How many of a block's symbols 0 .. t-1 (ESI t mod 255) are parity (ESI >= k).
std::uint64_t parity_before(std::uint32_t t, std::uint32_t k) {
  const std::uint32_t n = fec::kMaxEncodingSymbols;
  return std::uint64_t{t / n} * (n - k) + (t % n > k ? t % n - k : 0);
}

// Copies so that the worst of these hosts loses them all with at most `target` probability.
std::uint32_t copies_for(std::span<const double> losses, double target, std::uint32_t most) {
  const double worst = std::clamp(*std::max_element(losses.begin(), losses.end()), 0.0, 0.9);
  if (worst <= 0) return 1;
  const double c = std::ceil(std::log(target) / std::log(worst));
  return static_cast<std::uint32_t>(std::clamp(c, 1.0, static_cast<double>(most)));
}

}  // namespace

std::uint32_t auth_copies(std::span<const double> losses) {
  if (losses.empty()) return 2;
  std::uint32_t best = copies_for(losses, kAuthMissTarget, kMaxAuthCopies);
  double best_cost = std::numeric_limits<double>::infinity();
  for (std::uint32_t c = best; c <= kMaxAuthCopies; ++c) {
    double all_held = 0;  // log of the chance that every host holds a copy
    for (const double loss : losses) {
      all_held += std::log1p(-std::pow(std::clamp(loss, 0.0, 0.9), static_cast<double>(c)));
    }
    const double cost = c / std::exp(all_held);
    if (cost < best_cost) best_cost = cost, best = c;
  }
  return best;
}

std::uint32_t roots_copies(std::span<const double> losses) {
  if (losses.empty()) return 3;
  return std::max(copies_for(losses, kRootsMissTarget, 8), 2u);
}

RoundLayout::RoundLayout(const fec::BlockPlan& plan, const p::io::InputFile& file,
                         std::uint16_t file_id)
    : plan_(plan), file_(file), file_id_(file_id), codec_(fec::make_isal_codec()) {
  sent_.assign(plan_.block_count(), 0);
  sym_.resize(plan_.symbol_size());
  mix_.resize(plan_.symbol_size());
}

void RoundLayout::start_parity_halfway() {
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    const std::uint32_t k = plan_.source_symbols(b);
    sent_[b] = k + (255 - k) / 2;
  }
}

// Gives each block's symbols of the round their t (one-symbol packets first, then the block's
// parts of MIXED packets), each block its parity slots, and each packet its lane (the block of
// its first part) for interleaving.
std::uint64_t RoundLayout::lay_out(
    const RoundPackets& packets, std::uint64_t per_datagram,
    std::span<const std::pair<std::uint32_t, std::uint8_t>> requested) {
  const std::uint32_t blocks = plan_.block_count();
  const std::size_t s = plan_.symbol_size();
  start_ = sent_;
  single_.assign(blocks, 0);
  for (const RoundPackets::Run& r : packets.singles()) {
    single_[r.block] += r.count;
    sent_[r.block] += r.count;
  }
  std::uint64_t total = packets.single_packets() * (p::kHeaderBytes + s + per_datagram);
  std::vector<std::uint32_t> lane_count(blocks, 0);
  parts_.clear();
  packet_first_.assign(1, 0);
  for (std::size_t i = 0; i < packets.multi_count(); ++i) {
    const auto blocks_of = packets.multi(i);
    for (const std::uint32_t b : blocks_of) parts_.push_back(Part{b, sent_[b]++});
    packet_first_.push_back(static_cast<std::uint32_t>(parts_.size()));
    ++lane_count[blocks_of[0]];
    total += p::mixed_datagram_bytes(blocks_of.size(), s) + per_datagram;
  }
  parity_first_.assign(blocks + 1, 0);
  for (std::uint32_t b = 0; b < blocks; ++b) {
    const std::uint32_t k = plan_.source_symbols(b);
    parity_first_[b + 1] =
        parity_first_[b] + parity_before(sent_[b], k) - parity_before(start_[b], k);
  }

  auth_queue_.clear();
  auth_sent_ = 0;
  auth_repeat_.clear();
  auth_repeated_ = 0;
  held_.reset();
  auth_by_window_ = packets.multi_count() == 0;
  rooted_.reset();
  roots_left_ = 0;
  if (auth_ != nullptr) total += queue_auth(requested) * (auth_->datagram_bytes() + per_datagram);
  if (roots_) {
    std::optional<std::uint32_t> last;
    for (const AuthEntry& e : auth_queue_) {
      if (last == p::auth_window_of(e.block)) continue;
      last = p::auth_window_of(e.block);
      total += roots_copies_ * (roots_bytes_ + per_datagram);
    }
  }

  lane_first_.assign(blocks + 1, 0);
  for (std::uint32_t b = 0; b < blocks; ++b) lane_first_[b + 1] = lane_first_[b] + lane_count[b];
  lanes_.resize(packets.multi_count());
  std::vector<std::uint32_t> fill(lane_first_.begin(), lane_first_.end() - 1);
  for (std::uint32_t i = 0; i < packets.multi_count(); ++i) {
    lanes_[fill[parts_[packet_first_[i]].block]++] = i;
  }
  for (std::uint32_t b = 0; b < blocks; ++b) lane_count[b] += single_[b];
  order_ = std::make_unique<fec::Interleaver>(std::move(lane_count), kInterleaveWindow);
  encode_parity();
  // The hash of every MIXED packet of the round, for the signed table hosts check them with.
  mixed_hashes_.clear();
  for (std::size_t i = 0; i < packets.multi_count(); ++i) {
    const auto parts =
        std::span(parts_).subspan(packet_first_[i], packet_first_[i + 1] - packet_first_[i]);
    mixed_hashes_.push_back(p::mixed_hash(mixed(parts, 0)));
  }
  tables_sent_ = 0;
  if (sign_table_) total += 2 * tables() * (p::kMaxControlDatagram + per_datagram);
  return total;
}

// The chunks the round's symbols belong to that were never sent, and those a host asked for,
// auth_copies_ times each, by window or all first (next_auth); a chunk sent before, once, only
// in a round that sends its block anew. A host that lost every copy of a chunk asks for it in
// its NAK (naming the symbols it kept aside), and it goes out at the start of the next round.
// Returns the count at the present copies.
std::size_t RoundLayout::queue_auth(
    std::span<const std::pair<std::uint32_t, std::uint8_t>> requested) {
  const std::uint32_t blocks = plan_.block_count();
  std::vector<std::pair<std::uint32_t, std::uint8_t>> chunks;
  for (std::uint32_t b = 0; b < blocks; ++b) {
    unsigned mask = 0;
    const std::uint32_t end = std::min(sent_[b], start_[b] + 255);
    for (std::uint32_t t = start_[b]; t < end; ++t) mask |= 1u << p::auth_chunk_of(esi_of(t));
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      if (mask & (1u << c)) chunks.emplace_back(b, c);
    }
  }
  std::vector<std::pair<std::uint32_t, std::uint8_t>> wanted(requested.begin(), requested.end());
  std::sort(wanted.begin(), wanted.end());
  chunks.insert(chunks.end(), wanted.begin(), wanted.end());
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  chunk_sent_.resize(std::size_t{blocks} * p::kAuthChunksPerBlock, false);
  std::size_t fresh = 0;
  for (const auto& [b, c] : chunks) {
    const std::size_t i = p::auth_leaf_index(b, c);
    const bool asked = std::binary_search(wanted.begin(), wanted.end(), std::pair(b, c));
    // A block the round sends at least half of again (a host that joined late, or lost it
    // all) gets its chunks once more; otherwise a chunk sent before is held by every host that
    // did not ask for it.
    const bool again = sent_[b] - start_[b] >= plan_.source_symbols(b) / 2;
    if (chunk_sent_[i] && !asked && !again) continue;
    auth_queue_.push_back(AuthEntry{b, c, !chunk_sent_[i] || asked});
    if (auth_queue_.back().fresh) ++fresh;
    chunk_sent_[i] = true;
  }
  return auth_queue_.size() + fresh * (auth_copies_ - 1);
}

std::optional<std::pair<std::uint32_t, std::uint8_t>> RoundLayout::next_auth(
    std::uint32_t window_end) {
  if (auth_sent_ < auth_queue_.size() && auth_queue_[auth_sent_].block < window_end) {
    // The window's roots go first, every copy: an AUTH packet that comes before them is lost.
    const std::uint32_t block = auth_queue_[auth_sent_].block;
    if (roots_ && rooted_ != p::auth_window_of(block)) {
      rooted_ = p::auth_window_of(block);
      roots_left_ = roots_copies_;
      roots_chunks_ = 0;
      for (std::size_t i = auth_sent_;
           i < auth_queue_.size() && p::auth_window_of(auth_queue_[i].block) == *rooted_; ++i) {
        roots_chunks_ = static_cast<std::uint8_t>(roots_chunks_ | 1u << auth_queue_[i].chunk);
      }
    }
    if (roots_left_ > 0) {
      --roots_left_;
      return std::pair(block, kRootsMark);
    }
    const AuthEntry& e = auth_queue_[auth_sent_++];
    for (std::uint32_t copy = 1; e.fresh && copy < auth_copies_; ++copy) {
      auth_repeat_.emplace_back(e.block, e.chunk);
    }
    return std::pair(e.block, e.chunk);
  }
  if (auth_repeated_ < auth_repeat_.size()) return auth_repeat_[auth_repeated_++];
  auth_repeat_.clear();
  auth_repeated_ = 0;
  return std::nullopt;
}

std::size_t RoundLayout::tables() const {
  return (mixed_hashes_.size() + p::kMaxMixedTableHashes - 1) / p::kMaxMixedTableHashes;
}

// Encodes every parity symbol of the round, one codec call per block, into the scratch file.
void RoundLayout::encode_parity() {
  const std::size_t s = plan_.symbol_size();
  std::vector<std::uint8_t> block;
  std::vector<std::uint8_t> parity;
  std::vector<std::uint8_t> esis;
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    const auto count = static_cast<std::size_t>(parity_first_[b + 1] - parity_first_[b]);
    if (count == 0) continue;
    const std::uint32_t k = plan_.source_symbols(b);
    esis.clear();
    for (std::uint32_t t = start_[b]; t < sent_[b]; ++t) {
      if (esi_of(t) >= k) esis.push_back(esi_of(t));
    }
    block.resize(std::size_t{k} * s);
    file_.read(plan_.first_symbol(b) * s, block);
    src.clear();
    for (std::uint32_t j = 0; j < k; ++j) src.emplace_back(&block[j * s], s);
    parity.resize(count * s);
    out.clear();
    for (std::size_t i = 0; i < count; ++i) out.emplace_back(&parity[i * s], s);
    if (codec_->encode(src, esis, out) != fec::Status::ok) {
      throw std::logic_error("encode failed for a valid block");
    }
    parity_.write(parity_first_[b] * s, parity);
  }
}

p::MixedPacket RoundLayout::mixed(std::span<const Part> parts, std::uint32_t sequence) {
  p::MixedPacket m;
  m.file_id = file_id_;
  m.sequence = sequence;
  m.count = static_cast<std::uint8_t>(parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) m.parts[i] = {parts[i].block, esi_of(parts[i].t)};
  std::sort(m.parts.begin(), m.parts.begin() + m.count,
            [](const p::SymbolId& a, const p::SymbolId& b) { return a.sbn < b.sbn; });
  const auto first = symbol(parts[0]);
  std::copy(first.begin(), first.end(), mix_.begin());
  for (std::size_t i = 1; i < parts.size(); ++i) fec::add_symbol(mix_, symbol(parts[i]));
  m.payload = mix_;
  return m;
}

bool RoundLayout::is_parity(const Part& part) const {
  return esi_of(part.t) >= plan_.source_symbols(part.block);
}

std::span<const std::uint8_t> RoundLayout::symbol(const Part& part) {
  const std::size_t s = plan_.symbol_size();
  const std::uint32_t k = plan_.source_symbols(part.block);
  if (is_parity(part)) {
    const std::uint64_t slot =
        parity_first_[part.block] + parity_before(part.t, k) - parity_before(start_[part.block], k);
    parity_.read(slot * s, sym_);
  } else {
    file_.read((plan_.first_symbol(part.block) + esi_of(part.t)) * s, sym_);
  }
  return sym_;
}

std::optional<RoundLayout::Built> RoundLayout::build_next(std::uint32_t sequence,
                                                          std::span<std::uint8_t> out) {
  const auto auth_packet = [&](std::pair<std::uint32_t, std::uint8_t> c) {
    const std::size_t n = auth_->build(c.first, c.second, file_id_, sequence, out);
    if (n == 0) throw std::logic_error("an AUTH packet does not encode");
    return Built{n, PacketKind::auth, c.first};
  };
  const auto roots_or_auth = [&](std::pair<std::uint32_t, std::uint8_t> c) {
    if (c.second != kRootsMark) return auth_packet(c);
    const std::size_t n = roots_(p::auth_window_of(c.first), roots_chunks_, out);
    if (n == 0) throw std::logic_error("a ROOTS packet does not encode");
    return Built{n, PacketKind::roots, c.first};
  };
  if (!auth_by_window_) {
    if (const auto c = next_auth(UINT32_MAX)) return roots_or_auth(*c);
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
  if (held_) {
    next = *held_;
  } else if (!order_ || !order_->next(next)) {
    if (const auto c = next_auth(UINT32_MAX)) return roots_or_auth(*c);  // chunks asked for
    return std::nullopt;
  }
  const std::uint32_t window_end = (next.block / kInterleaveWindow + 1) * kInterleaveWindow;
  if (const auto c = next_auth(window_end)) {
    held_ = next;
    return roots_or_auth(*c);
  }
  held_.reset();
  std::size_t n = 0;
  PacketKind kind = PacketKind::mixed;
  if (next.index < single_[next.block]) {
    const Part part{next.block, start_[next.block] + next.index};
    const bool parity = is_parity(part);
    kind = parity ? PacketKind::parity : PacketKind::source;
    n = p::encode_symbol(
        p::SymbolPacket{parity, file_id_, sequence, part.block, esi_of(part.t), symbol(part)}, out);
  } else {
    const std::uint32_t packet = lanes_[lane_first_[next.block] + next.index - single_[next.block]];
    n = p::encode_mixed(
        mixed(std::span(parts_).subspan(packet_first_[packet],
                                        packet_first_[packet + 1] - packet_first_[packet]),
              sequence),
        out);
  }
  if (n == 0) throw std::logic_error("a data packet does not encode");
  return Built{n, kind, next.block};
}

}  // namespace fleetcast::sender
