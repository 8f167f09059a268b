#include "sender/delivery/data_auth.hpp"

#include <stdexcept>

#include "fec/codec.hpp"

namespace fleetcast::sender {
namespace p = protocol;

DataAuth::DataAuth(const fec::BlockPlan& plan, const p::io::InputFile& file)
    : tree_(make_tree(plan, file)) {}

p::AuthTree DataAuth::make_tree(const fec::BlockPlan& plan, const p::io::InputFile& file) {
  const std::size_t s = plan.symbol_size();
  const std::uint32_t blocks = plan.block_count();
  auto codec = fec::make_isal_codec();
  p::Hasher whole;
  std::vector<std::uint8_t> block(fec::kMaxSourceSymbols * s);
  std::array<p::SymbolHash, fec::kMaxEncodingSymbols> h;
  std::vector<std::uint8_t> parity(fec::kMaxEncodingSymbols * s);
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  std::vector<std::uint8_t> esis;
  std::vector<p::SymbolHash> leaves;
  leaves.reserve(std::size_t{blocks} * p::kAuthChunksPerBlock);
  for (std::uint32_t b = 0; b < blocks; ++b) {
    const std::uint32_t k = plan.source_symbols(b);
    const std::uint64_t offset = plan.first_symbol(b) * s;
    const auto data = std::span(block).first(std::size_t{k} * s);
    file.read(offset, data);
    if (offset < file.size()) {
      whole.update(data.first(
          static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), file.size() - offset))));
    }
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
    for (std::uint32_t e = 0; e < fec::kMaxEncodingSymbols; ++e) {
      const auto sym = e < k ? std::span(&data[e * s], s) : std::span(&parity[(e - k) * s], s);
      h[e] = p::symbol_hash(b, static_cast<std::uint8_t>(e), sym);
    }
    hashes_.write(std::uint64_t{b} * sizeof h,
                  std::span(reinterpret_cast<const std::uint8_t*>(h.data()), sizeof h));
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      leaves.push_back(
          p::auth_leaf(b, c, std::span(h.data() + c * p::kAuthChunkSymbols, p::kAuthChunkSymbols)));
    }
  }
  digest_ = whole.finish();
  return p::AuthTree(std::move(leaves));
}

std::size_t DataAuth::build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                            std::uint32_t sequence, std::span<std::uint8_t> out) const {
  const auto path = tree_.path(p::auth_leaf_index(sbn, chunk));
  std::array<std::uint8_t, p::kAuthChunkSymbols * p::kSymbolHashBytes> hashes;
  hashes_.read((std::uint64_t{sbn} * fec::kMaxEncodingSymbols +
                std::uint64_t{chunk} * p::kAuthChunkSymbols) *
                   p::kSymbolHashBytes,
               hashes);
  p::AuthPacket a;
  a.file_id = file_id;
  a.sequence = sequence;
  a.sbn = sbn;
  a.chunk = chunk;
  a.hashes = hashes;
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
