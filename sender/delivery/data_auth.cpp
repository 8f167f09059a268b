#include "sender/delivery/data_auth.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <thread>

#include "fec/codec.hpp"

namespace fleetcast::sender {
namespace p = protocol;

DataAuth::DataAuth(const fec::BlockPlan& plan, const p::io::InputFile& file)
    : tree_(make_tree(plan, file)) {}

namespace {

// Encodes and hashes the blocks `first`, `first + step`, ... of the file: each block's 255
// symbol hashes into `hashes` at its offset, its 5 leaves into `leaves` at theirs.
void hash_blocks(const fec::BlockPlan& plan, const p::io::InputFile& file, std::uint32_t first,
                 std::uint32_t step, p::io::ScratchFile& hashes,
                 std::vector<p::SymbolHash>& leaves) {
  const std::size_t s = plan.symbol_size();
  auto codec = fec::make_isal_codec();
  std::vector<std::uint8_t> block(fec::kMaxSourceSymbols * s);
  std::array<p::SymbolHash, fec::kMaxEncodingSymbols> h;
  std::vector<std::uint8_t> parity(fec::kMaxEncodingSymbols * s);
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  std::vector<std::uint8_t> esis;
  for (std::uint32_t b = first; b < plan.block_count(); b += step) {
    const std::uint32_t k = plan.source_symbols(b);
    const auto data = std::span(block).first(std::size_t{k} * s);
    file.read(plan.first_symbol(b) * s, data);
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
    hashes.write(std::uint64_t{b} * sizeof h,
                 std::span(reinterpret_cast<const std::uint8_t*>(h.data()), sizeof h));
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      leaves[std::size_t{b} * p::kAuthChunksPerBlock + c] =
          p::auth_leaf(b, c, std::span(h.data() + c * p::kAuthChunkSymbols, p::kAuthChunkSymbols));
    }
  }
}

}  // namespace

p::AuthTree DataAuth::make_tree(const fec::BlockPlan& plan, const p::io::InputFile& file) {
  // The blocks are shared among the cores, block b to worker b mod n; the file's digest (one
  // sequential pass) is taken beside them on this thread.
  const std::uint32_t workers =
      std::clamp(std::thread::hardware_concurrency(), 1u, std::max(plan.block_count(), 1u));
  std::vector<p::SymbolHash> leaves(std::size_t{plan.block_count()} * p::kAuthChunksPerBlock);
  std::vector<std::exception_ptr> failed(workers);
  std::vector<std::jthread> threads;  // joined however this returns
  for (std::uint32_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        hash_blocks(plan, file, w, workers, hashes_, leaves);
      } catch (...) {
        failed[w] = std::current_exception();
      }
    });
  }
  std::exception_ptr digest_failed;
  try {
    digest_ = file.digest();
  } catch (...) {
    digest_failed = std::current_exception();
  }
  threads.clear();  // joins them
  for (const auto& f : failed) {
    if (f) std::rethrow_exception(f);
  }
  if (digest_failed) std::rethrow_exception(digest_failed);
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
