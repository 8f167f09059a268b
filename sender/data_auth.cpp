#include "sender/data_auth.hpp"

#include <stdexcept>

#include "fec/codec.hpp"

namespace fleetcast::sender {
namespace p = protocol;

DataAuth::DataAuth(const fec::BlockPlan& plan, std::span<const std::uint8_t> file)
    : tree_(make_tree(plan, file, hashes_)) {}

p::AuthTree DataAuth::make_tree(const fec::BlockPlan& plan, std::span<const std::uint8_t> file,
                                std::vector<p::SymbolHash>& hashes) {
  const std::size_t s = plan.symbol_size();
  const std::uint32_t blocks = plan.block_count();
  hashes.resize(std::size_t{blocks} * fec::kMaxEncodingSymbols);
  auto codec = fec::make_isal_codec();
  std::vector<std::uint8_t> parity(fec::kMaxEncodingSymbols * s);
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  std::vector<std::uint8_t> esis;
  std::vector<p::SymbolHash> leaves;
  leaves.reserve(std::size_t{blocks} * p::kAuthChunksPerBlock);
  for (std::uint32_t b = 0; b < blocks; ++b) {
    const std::uint32_t k = plan.source_symbols(b);
    const std::uint8_t* data = &file[plan.first_symbol(b) * s];
    src.clear();
    for (std::uint32_t j = 0; j < k; ++j) src.emplace_back(&data[j * s], s);
    esis.clear();
    out.clear();
    for (std::uint32_t e = k; e < fec::kMaxEncodingSymbols; ++e) {
      esis.push_back(static_cast<std::uint8_t>(e));
      out.emplace_back(&parity[(e - k) * s], s);
    }
    if (!esis.empty() && codec->encode(src, esis, out) != fec::Status::ok) {
      throw std::logic_error("parity encode failed for a valid block");
    }
    p::SymbolHash* h = &hashes[std::size_t{b} * fec::kMaxEncodingSymbols];
    for (std::uint32_t e = 0; e < fec::kMaxEncodingSymbols; ++e) {
      const auto sym = e < k ? std::span(&data[e * s], s) : std::span(&parity[(e - k) * s], s);
      h[e] = p::symbol_hash(b, static_cast<std::uint8_t>(e), sym);
    }
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      leaves.push_back(
          p::auth_leaf(b, c, std::span(h + c * p::kAuthChunkSymbols, p::kAuthChunkSymbols)));
    }
  }
  return p::AuthTree(std::move(leaves));
}

std::size_t DataAuth::build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                            std::uint32_t sequence, std::span<std::uint8_t> out) const {
  const auto path = tree_.path(p::auth_leaf_index(sbn, chunk));
  const auto* first = &hashes_[std::size_t{sbn} * fec::kMaxEncodingSymbols +
                               std::size_t{chunk} * p::kAuthChunkSymbols];
  p::AuthPacket a;
  a.file_id = file_id;
  a.sequence = sequence;
  a.sbn = sbn;
  a.chunk = chunk;
  a.hashes = std::span(reinterpret_cast<const std::uint8_t*>(first),
                       p::kAuthChunkSymbols * p::kSymbolHashBytes);
  a.path = std::span(reinterpret_cast<const std::uint8_t*>(path.data()),
                     path.size() * p::kSymbolHashBytes);
  return p::encode_auth(a, out);
}

std::size_t DataAuth::datagram_bytes() const {
  std::size_t depth = 0;
  for (std::uint64_t n = tree_.leaf_count(); n > 1; n = (n + 1) / 2) ++depth;
  return p::kHeaderBytes + 1 + p::kAuthChunkSymbols * p::kSymbolHashBytes +
         depth * p::kSymbolHashBytes;
}

}  // namespace fleetcast::sender
