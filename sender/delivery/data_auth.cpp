#include "sender/delivery/data_auth.hpp"

#include <algorithm>
#include <stdexcept>

#include "fec/codec.hpp"

namespace fleetcast::sender {
namespace p = protocol;

DataAuth::DataAuth(const fec::BlockPlan& plan, const p::io::InputFile& file,
                   std::function<void()> before_digest)
    : plan_(plan), file_(file), done_(windows()) {
  // One worker per core; the first takes the file's digest (one sequential pass, what the
  // UPDATE waits for) before it joins the others on the windows.
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
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] {
          return stop_ || failed_ || next_ >= done_.size() || next_ < wanted_ + kLookahead;
        });
        if (stop_ || failed_ || next_ >= done_.size()) return;
        w = next_++;
      }
      auto window = std::make_unique<Window>(hash_window(w));
      const std::lock_guard lock(mutex_);
      done_[w] = std::move(window);
      changed_.notify_all();
    }
  } catch (...) {
    const std::lock_guard lock(mutex_);
    if (!failed_) failed_ = std::current_exception();
    changed_.notify_all();
  }
}

// Encodes and hashes the blocks of window w: each block's 255 symbol hashes into hashes_ at its
// offset, and the trees of the window's 5 segments.
DataAuth::Window DataAuth::hash_window(std::uint32_t w) {
  const std::size_t s = plan_.symbol_size();
  const std::uint32_t first_block = w * p::kAuthWindowBlocks;
  const std::uint32_t blocks = p::auth_window_blocks(plan_.block_count(), w);
  auto codec = fec::make_isal_codec();
  std::vector<std::uint8_t> block(fec::kMaxSourceSymbols * s);
  std::vector<std::uint8_t> parity(fec::kMaxEncodingSymbols * s);
  std::array<p::SymbolHash, fec::kMaxEncodingSymbols> h;
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
      leaves[c].push_back(
          p::auth_leaf(b, c, std::span(h.data() + c * p::kAuthChunkSymbols, p::kAuthChunkSymbols)));
    }
  }
  Window out_window;
  for (std::uint8_t c = 0; c < p::kAuthChunksPerBlock; ++c) {
    out_window.trees.emplace_back(std::move(leaves[c]));
    out_window.roots[c] = out_window.trees.back().root();
  }
  return out_window;
}

const DataAuth::Window& DataAuth::wait_window(std::uint32_t w) const {
  if (w >= done_.size()) throw std::logic_error("no such window of the file");
  std::unique_lock lock(mutex_);
  if (w > wanted_) {
    wanted_ = w;
    changed_.notify_all();
  }
  changed_.wait(lock, [&] { return done_[w] != nullptr || failed_; });
  if (done_[w] == nullptr) std::rethrow_exception(failed_);
  return *done_[w];  // never moved or changed once set
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

const DataAuth::SegmentRoots& DataAuth::roots(std::uint32_t window) const {
  return wait_window(window).roots;
}

void DataAuth::wait_all() const {
  for (std::uint32_t w = 0; w < windows(); ++w) (void)wait_window(w);
}

std::size_t DataAuth::build(std::uint32_t sbn, std::uint8_t chunk, std::uint16_t file_id,
                            std::uint32_t sequence, std::span<std::uint8_t> out) const {
  const Window& window = wait_window(p::auth_window_of(sbn));
  const auto path = window.trees[chunk].path(sbn % p::kAuthWindowBlocks);
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
