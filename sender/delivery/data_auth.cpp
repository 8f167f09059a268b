#include "sender/delivery/data_auth.hpp"

#include <algorithm>
#include <stdexcept>

#include "fec/codec.hpp"

namespace fleetcast::sender {
namespace p = protocol;

DataAuth::DataAuth(const fec::BlockPlan& plan, const p::io::InputFile& file, std::uint8_t ahead,
                   std::function<void()> before_digest)
    : plan_(plan), file_(file), windows_(windows()), ahead_(ahead & kAllChunks) {
  // One worker per core; the first takes the file's digest (one sequential pass) before it
  // joins the others on the windows.
  const unsigned workers = std::max(std::thread::hardware_concurrency(), 2u);
  for (unsigned i = 0; i < workers; ++i) {
    workers_.emplace_back([this, i, hook = i == 0 ? std::move(before_digest) : nullptr] {
      work(i == 0 ? &hook : nullptr);
    });
  }
}

DataAuth::~DataAuth() {
  {
    const std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  workers_.clear();  // joins them
}

std::uint8_t DataAuth::chunks_below(std::uint32_t esis) {
  std::uint8_t mask = 0;
  for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
    if (c * p::kAuthChunkSymbols < esis) mask = static_cast<std::uint8_t>(mask | 1u << c);
  }
  return mask;
}

bool DataAuth::next_job(std::uint32_t& window, std::uint8_t& chunks) const {
  // What the sender waits for first, then the chunks ahead of it.
  for (std::uint32_t w = 0; w < windows_.size(); ++w) {
    const Window& x = windows_[w];
    const auto todo = static_cast<std::uint8_t>((x.asked | ahead_) & ~x.held & ~x.busy);
    if ((x.asked & ~x.held & ~x.busy) != 0) {
      window = w;
      chunks = todo;
      return true;
    }
  }
  const auto end = std::min<std::size_t>(std::size_t{wanted_} + kLookahead, windows_.size());
  for (std::uint32_t w = wanted_; w < end; ++w) {
    const Window& x = windows_[w];
    const auto todo = static_cast<std::uint8_t>(ahead_ & ~x.held & ~x.busy);
    if (todo != 0) {
      window = w;
      chunks = todo;
      return true;
    }
  }
  return false;
}

void DataAuth::work(const std::function<void()>* before_digest) {
  try {
    if (before_digest != nullptr) {
      if (*before_digest) (*before_digest)();
      const p::Digest d = file_.digest();
      const std::lock_guard lock(mutex_);
      digest_ = d;
      digest_ready_ = true;
      changed_.notify_all();
    }
    for (;;) {
      std::uint32_t w = 0;
      std::uint8_t chunks = 0;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || failed_ || next_job(w, chunks); });
        if (stop_ || failed_) return;
        windows_[w].busy |= chunks;
      }
      Hashed hashed = hash_chunks(w, chunks);
      const std::lock_guard lock(mutex_);
      Window& x = windows_[w];
      for (auto& [c, tree] : hashed) {
        x.roots[c] = tree.root();
        x.trees[c].emplace(std::move(tree));
      }
      x.held |= chunks;
      x.busy = static_cast<std::uint8_t>(x.busy & ~chunks);
      changed_.notify_all();
    }
  } catch (...) {
    const std::lock_guard lock(mutex_);
    if (!failed_) failed_ = std::current_exception();
    changed_.notify_all();
  }
}

// Hashes `chunks` of every block of window w (encoding the parity ESIs among them): their
// symbol hashes into hashes_ at their offsets, and a tree per chunk.
DataAuth::Hashed DataAuth::hash_chunks(std::uint32_t w, std::uint8_t chunks) const {
  const std::size_t s = plan_.symbol_size();
  const std::uint32_t first_block = w * p::kAuthWindowBlocks;
  const std::uint32_t blocks = p::auth_window_blocks(plan_.block_count(), w);
  auto codec = fec::make_isal_codec();
  std::vector<std::uint8_t> block(fec::kMaxSourceSymbols * s);
  std::vector<std::uint8_t> parity(fec::kMaxEncodingSymbols * s);
  std::array<p::SymbolHash, p::kAuthChunkSymbols> h;
  std::vector<fec::Symbol> src;
  std::vector<fec::MutableSymbol> out;
  std::vector<std::uint8_t> esis;
  std::array<std::vector<p::SymbolHash>, p::kAuthChunksPerBlock> leaves;
  for (std::uint32_t b = first_block; b < first_block + blocks; ++b) {
    const std::uint32_t k = plan_.source_symbols(b);
    const auto data = std::span(block).first(std::size_t{k} * s);
    file_.read(plan_.first_symbol(b) * s, data);
    src.clear();
    for (std::uint32_t j = 0; j < k; ++j) src.emplace_back(&data[j * s], s);
    esis.clear();
    out.clear();
    for (std::uint32_t e = k; e < fec::kMaxEncodingSymbols; ++e) {
      if ((chunks & (1u << p::auth_chunk_of(static_cast<std::uint8_t>(e)))) == 0) continue;
      out.emplace_back(&parity[(e - k) * s], s);
      esis.push_back(static_cast<std::uint8_t>(e));
    }
    if (!esis.empty() && codec->encode(src, esis, out) != fec::Status::ok) {
      throw std::logic_error("parity encode failed for a valid block");
    }
    for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
      if ((chunks & (1u << c)) == 0) continue;
      for (std::uint32_t i = 0; i < p::kAuthChunkSymbols; ++i) {
        const std::uint32_t e = c * p::kAuthChunkSymbols + i;
        const auto sym = e < k ? std::span(&data[e * s], s) : std::span(&parity[(e - k) * s], s);
        h[i] = p::symbol_hash(b, static_cast<std::uint8_t>(e), sym);
      }
      hashes_.write((std::uint64_t{b} * fec::kMaxEncodingSymbols + c * p::kAuthChunkSymbols) *
                        p::kSymbolHashBytes,
                    std::span(reinterpret_cast<const std::uint8_t*>(h.data()), sizeof h));
      leaves[c].push_back(p::auth_leaf(b, c, h));
    }
  }
  Hashed out_trees;
  for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
    if ((chunks & (1u << c)) != 0) out_trees.emplace_back(c, p::AuthTree(std::move(leaves[c])));
  }
  return out_trees;
}

const DataAuth::Window& DataAuth::wait_for(std::uint32_t w, std::uint8_t chunks) const {
  if (w >= windows_.size()) throw std::logic_error("no such window of the file");
  std::unique_lock lock(mutex_);
  Window& x = windows_[w];
  if ((x.held & chunks) != chunks) {
    x.asked |= chunks;
    ahead_ |= chunks;  // a round that needs a chunk of this window needs it of the next ones
  }
  wanted_ = w;
  changed_.notify_all();
  changed_.wait(lock, [&] { return (x.held & chunks) == chunks || failed_; });
  if ((x.held & chunks) != chunks) std::rethrow_exception(failed_);
  x.asked = static_cast<std::uint8_t>(x.asked & ~chunks);
  return x;  // its trees and roots of `chunks` never change once held
}

const p::Digest& DataAuth::digest() const {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return digest_ready_ || failed_; });
  if (!digest_ready_) std::rethrow_exception(failed_);
  return digest_;
}

std::optional<p::Digest> DataAuth::digest_within(std::chrono::milliseconds wait) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, wait, [&] { return digest_ready_ || failed_; });
  if (digest_ready_) return digest_;
  if (failed_) std::rethrow_exception(failed_);
  return std::nullopt;
}

DataAuth::Roots DataAuth::roots(std::uint32_t window, std::uint8_t chunks) const {
  const Window& x = wait_for(window, chunks);
  const std::lock_guard lock(mutex_);
  return Roots{x.held, x.roots};
}

void DataAuth::wait_all(std::uint8_t chunks) const {
  for (std::uint32_t w = 0; w < windows(); ++w) (void)wait_for(w, chunks);
}

std::size_t DataAuth::build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                            std::uint32_t sequence, std::span<std::uint8_t> out) const {
  if (chunk >= p::kAuthChunksPerBlock) return 0;
  const Window& window = wait_for(p::auth_window_of(sbn), static_cast<std::uint8_t>(1u << chunk));
  const auto path = window.trees[chunk]->path(sbn % p::kAuthWindowBlocks);
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
  const std::uint64_t leaves = std::min(plan_.block_count(), p::kAuthWindowBlocks);
  for (std::uint64_t n = leaves; n > 1; n = (n + 1) / 2) ++depth;
  return p::kHeaderBytes + 1 + p::kAuthChunkSymbols * p::kSymbolHashBytes +
         depth * p::kSymbolHashBytes;
}

}  // namespace fleetcast::sender
