#include "receiver/reception/assembler.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "protocol/io/file.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

constexpr std::uint32_t kStateMagic = 0x46435354;  // "FCST"
constexpr std::uint32_t kStateVersion = 2;         // 2: the session, for a digest not known yet

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  p::io::throw_errno(path.string(), what);
}

// A checkpoint: the part file's data, then the state that names it (throws).
void sync_and_record(int fd, const std::filesystem::path& part, const std::filesystem::path& path,
                     std::span<const std::uint8_t> state) {
  if (::fdatasync(fd) != 0) fail(part, "fdatasync");
  p::io::write_file_atomic(path, state, 0600);
}

}  // namespace

Assembler::Assembler(const p::Update& update, std::filesystem::path spool,
                     std::filesystem::path state)
    : update_(update),
      plan_(fec::BlockPlan::make(update.size, update.symbol_size, update.max_k).value()),
      part_path_(spool / ("." + update.name + ".part")),
      final_path_(spool / update.name),
      state_path_(state / (update.name + ".state")),
      codec_(fec::make_isal_codec()),
      state_dir_(std::move(state)) {
  blocks_.resize(plan_.block_count());
  chunk_held_.assign(std::size_t{plan_.block_count()} * p::kAuthChunksPerBlock, false);
  roots_.resize(p::auth_windows(plan_.block_count()));
  for (std::uint32_t b = 0; b < plan_.block_count(); ++b) {
    blocks_[b].source.assign(plan_.source_symbols(b), false);
  }
  load_state();
  if (finalized_) return;  // already verified and in the spool: nothing to receive
  fd_ = ::open(part_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail(part_path_, "open");
  writes_ = std::make_unique<p::io::GatheredWrites>(fd_, kWriteRunBytes);
  part_size_ = plan_.symbol_count() * plan_.symbol_size();
  if (part_size_ > 0) {
    // A part file of another, larger object under this name keeps nothing useful: its tail
    // would stay reserved. Then reserve every block now: a full disk fails here, cleanly, not
    // halfway through. Written with pwrite and read back with pread, never mapped: on ext4,
    // first writes through a shared mapping of a freshly reserved file stall the writer for up
    // to seconds when several processes write at once (4 writers: 2.3 s, against 66 ms with
    // pwrite), and a mapping read back counts the whole object as resident.
    if (::ftruncate(fd_, static_cast<off_t>(part_size_)) != 0) fail(part_path_, "ftruncate");
    if (const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(part_size_)); err != 0) {
      errno = err;
      fail(part_path_, "cannot reserve " + std::to_string(part_size_) + " bytes");
    }
  }
  for (const Block& b : blocks_) {
    if (!b.complete) counters_.lacked_at_open += b.source.size() - b.source_count;
  }
}

Assembler::~Assembler() {
  wait_for_sync(false);           // a failure here changes nothing: the state names what was synced
  if (writes_) writes_->flush();  // unrecorded data: only saves a resume from receiving it again
  if (fd_ >= 0) ::close(fd_);
}

void Assembler::read_symbols(std::uint64_t first, std::span<std::uint8_t> out) const {
  read_at(first * plan_.symbol_size(), out);
}

void Assembler::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  flush_writes();
  const std::ptrdiff_t got = p::io::pread_full(fd_, out, offset);
  if (got < 0) fail(part_path_, "read");
  if (static_cast<std::size_t>(got) < out.size()) {
    throw std::runtime_error(part_path_.string() + ": shorter than reserved");
  }
}

void Assembler::write_symbols(std::uint64_t first, std::span<const std::uint8_t> bytes) {
  if (!writes_->write(first * plan_.symbol_size(), bytes)) fail(part_path_, "write");
}

void Assembler::flush_writes() const {
  if (writes_ && !writes_->flush()) fail(part_path_, "write");
}

void Assembler::wait_for_sync(bool rethrow) {
  if (!syncing_.valid()) return;
  const std::string error = syncing_.get();
  if (!error.empty()) {
    dirty_ = true;  // what it should have recorded is still to record
    if (rethrow) throw std::runtime_error(error);
  }
}

std::optional<Assembler::Recorded> Assembler::recorded(const std::filesystem::path& state,
                                                       const std::string& name) {
  std::vector<std::uint8_t> bytes;
  try {
    bytes = p::io::read_file(state / (name + ".state"));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  p::ByteReader r(bytes);
  if (r.u32() != kStateMagic || r.u32() != kStateVersion) return std::nullopt;
  Recorded out;
  r.bytes(out.digest);
  out.session.value = r.u64();
  out.size = r.u64();
  if (!r.ok()) return std::nullopt;
  return out;
}

void Assembler::load_state() {
  std::vector<std::uint8_t> bytes;
  try {
    bytes = p::io::read_file(state_path_);
  } catch (const std::exception&) {
    return;  // nothing to resume (or unreadable: start over)
  }
  p::ByteReader r(bytes);
  p::Digest digest{};
  const bool header_ok = r.u32() == kStateMagic && r.u32() == kStateVersion;
  r.bytes(digest);
  const std::uint64_t session = r.u64();
  // The same object: the same digest, or (one of the two not known yet) the same session.
  const bool same_object =
      (digest_known() && digest == update_.digest) ||
      (session == update_.session.value && (!digest_known() || digest == p::Digest{}));
  const bool same = header_ok && same_object && r.u64() == update_.size &&
                    r.u32() == update_.symbol_size && r.u32() == update_.max_k;
  if (!r.ok() || !same) return;  // another object under this name: start over
  std::vector<Block> loaded = blocks_;
  std::uint32_t complete = 0;
  for (Block& b : loaded) {
    b.complete = r.u8() != 0;
    if (b.complete) ++complete;
    for (std::size_t j = 0; j < b.source.size(); j += 8) {
      const std::uint8_t bits = r.u8();
      for (std::size_t i = 0; i < 8 && j + i < b.source.size(); ++i) {
        b.source[j + i] = (bits >> i) & 1u;
        if (b.source[j + i]) ++b.source_count;
      }
    }
  }
  const bool finished = r.u8() != 0;
  if (!r.ok() || r.remaining() != 0) return;  // torn or foreign: ignore, start over
  blocks_ = std::move(loaded);
  complete_blocks_ = complete;
  finalized_ = finished && std::filesystem::exists(final_path_);
}

void Assembler::checkpoint() {
  wait_for_sync(true);
  if (!dirty_ || fd_ < 0) return;
  flush_writes();
  sync_and_record(fd_, part_path_, state_path_, state_bytes());
  dirty_ = false;
}

void Assembler::checkpoint_async() {
  if (syncing_.valid()) {
    if (syncing_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
    wait_for_sync(true);
  }
  if (!dirty_ || fd_ < 0) return;
  flush_writes();
  // The blocks complete now were written before now: the sync that starts after this moment
  // makes them durable before the state that names them is written.
  syncing_ = std::async(
      std::launch::async,
      [fd = fd_, part = part_path_, path = state_path_, state = state_bytes()]() -> std::string {
        try {
          sync_and_record(fd, part, path, state);
        } catch (const std::exception& e) {
          return e.what();
        }
        return {};
      });
  dirty_ = false;
}

std::vector<std::uint8_t> Assembler::state_bytes() const {
  std::size_t size = 4 + 4 + 32 + 8 + 8 + 4 + 4 + 1;
  for (const Block& b : blocks_) size += 1 + (b.source.size() + 7) / 8;
  std::vector<std::uint8_t> bytes(size);
  p::ByteWriter w(bytes);
  w.u32(kStateMagic);
  w.u32(kStateVersion);
  w.bytes(update_.digest);
  w.u64(update_.session.value);
  w.u64(update_.size);
  w.u32(update_.symbol_size);
  w.u32(update_.max_k);
  for (const Block& b : blocks_) {
    w.u8(b.complete ? 1 : 0);
    for (std::size_t j = 0; j < b.source.size(); j += 8) {
      std::uint8_t bits = 0;
      for (std::size_t i = 0; i < 8 && j + i < b.source.size(); ++i) {
        bits = static_cast<std::uint8_t>(bits | (b.source[j + i] ? 1u << i : 0u));
      }
      w.u8(bits);
    }
  }
  w.u8(finalized_ ? 1 : 0);
  const auto written = w.written();
  return {written.begin(), written.end()};
}

bool Assembler::holds(std::uint32_t sbn, std::uint8_t esi) const {
  const Block& b = blocks_[sbn];
  return b.complete ||
         (esi < b.source.size() ? b.source[esi]
                                : std::any_of(b.parity.begin(), b.parity.end(),
                                              [&](const auto& e) { return e.first == esi; }));
}

Assembler::Result Assembler::on_symbol(const p::SymbolPacket& packet) {
  if (packet.sbn >= plan_.block_count() || packet.payload.size() != plan_.symbol_size()) {
    return Result::invalid;
  }
  Block& b = blocks_[packet.sbn];
  const std::uint32_t k = plan_.source_symbols(packet.sbn);
  if (packet.esi >= fec::kMaxEncodingSymbols || packet.parity != (packet.esi >= k)) {
    return Result::invalid;
  }
  ++counters_.symbols_received;
  if (holds(packet.sbn, packet.esi)) {
    ++counters_.duplicates;
    return Result::duplicate;
  }
  const auto expected = expected_hash(packet.sbn, packet.esi);
  if (!expected) {  // kept aside until its chunk comes
    auto& copies = b.pending[packet.esi];
    for (const auto& c : copies) {
      if (std::equal(c.begin(), c.end(), packet.payload.begin(), packet.payload.end())) {
        ++counters_.duplicates;
        return Result::duplicate;
      }
    }
    ++counters_.unverified;
    if (!copies.empty()) forgery_seen_ = true;  // two different copies: one is forged
    if (copies.size() < kMaxCandidates &&
        pending_bytes_ + packet.payload.size() <= kMaxPendingBytes) {
      copies.emplace_back(packet.payload.begin(), packet.payload.end());
      pending_bytes_ += packet.payload.size();
    }
    if (copies.empty()) b.pending.erase(packet.esi);
    return Result::unverified;
  }
  if (p::symbol_hash(packet.sbn, packet.esi, packet.payload) != *expected) {
    ++counters_.forged;
    forgery_seen_ = true;
    return Result::forged;
  }
  ++counters_.symbols_useful;
  accept(packet.sbn, packet.esi, packet.payload);
  return Result::stored;
}

namespace {

// A slot of block `b` (a source symbol it lacks) that no parity symbol occupies, other than
// `except`. One exists while the block holds fewer than k symbols.
template <class Block>
std::uint8_t free_slot(const Block& b, std::uint32_t except) {
  for (std::uint32_t j = 0; j < b.source.size(); ++j) {
    if (b.source[j] || j == except) continue;
    if (std::none_of(b.parity.begin(), b.parity.end(),
                     [&](const auto& e) { return e.second == j; })) {
      return static_cast<std::uint8_t>(j);
    }
  }
  throw std::logic_error("no free slot in a block that holds fewer than k symbols");
}

}  // namespace

void Assembler::accept(std::uint32_t sbn, std::uint8_t esi, std::span<const std::uint8_t> symbol) {
  Block& b = blocks_[sbn];
  const std::uint32_t k = plan_.source_symbols(sbn);
  const std::uint64_t first = plan_.first_symbol(sbn);
  if (esi < k) {
    // A parity symbol kept in this slot moves to another free one first.
    const auto displaced = std::find_if(b.parity.begin(), b.parity.end(),
                                        [&](const auto& e) { return e.second == esi; });
    if (displaced != b.parity.end()) {
      scratch_.resize(plan_.symbol_size());
      read_symbols(first + esi, scratch_);
      displaced->second = free_slot(b, esi);
      write_symbols(first + displaced->second, scratch_);
    }
    write_symbols(first + esi, symbol);
    b.source[esi] = true;
    ++b.source_count;
    dirty_ = true;
  } else {
    const std::uint8_t slot = free_slot(b, k);
    write_symbols(first + slot, symbol);
    b.parity.emplace_back(esi, slot);
  }
  if (b.source_count == k) {
    b.complete = true;
    b.parity.clear();
    ++complete_blocks_;
    dirty_ = true;
    block_complete(sbn);
  } else if (b.source_count + b.parity.size() >= k) {
    decode_block(sbn);
  }
}

Assembler::Result Assembler::on_mixed(const p::MixedPacket& packet) {
  const std::size_t s = plan_.symbol_size();
  if (packet.payload.size() != s) return Result::invalid;
  const p::SymbolId* wanted = nullptr;
  bool unusable = false;
  for (const p::SymbolId& id : packet.ids()) {
    if (id.sbn >= plan_.block_count() || id.esi >= fec::kMaxEncodingSymbols) return Result::invalid;
    if (blocks_[id.sbn].complete) continue;
    unusable = wanted != nullptr;
    wanted = &id;
  }
  // Nothing to learn, or the symbol is held already: skip the subtraction.
  if (wanted == nullptr || unusable || holds(wanted->sbn, wanted->esi)) {
    ++counters_.symbols_received;
    ++counters_.duplicates;
    if (unusable) ++counters_.mixed_unusable;
    return Result::duplicate;
  }
  // The subtraction costs a parity encode per part: only for a packet the manager listed.
  if (!allowed_mixed_.count(p::mixed_hash(packet))) {
    ++counters_.symbols_received;
    ++counters_.mixed_unlisted;
    return Result::unverified;
  }
  // ... and not for a symbol that cannot be checked.
  if (!chunk_held_[p::auth_leaf_index(wanted->sbn, p::auth_chunk_of(wanted->esi))]) {
    ++counters_.symbols_received;
    ++counters_.unverified;
    return Result::unverified;
  }
  const std::uint32_t k = plan_.source_symbols(wanted->sbn);
  mix_.assign(packet.payload.begin(), packet.payload.end());
  scratch_.resize(s);
  std::vector<fec::Symbol> source;
  for (const p::SymbolId& id : packet.ids()) {
    if (&id == wanted) continue;
    const std::uint32_t kb = plan_.source_symbols(id.sbn);
    if (id.esi < kb) {
      read_symbols(plan_.first_symbol(id.sbn) + id.esi, scratch_);
      fec::add_symbol(mix_, scratch_);
      continue;
    }
    block_.resize(std::size_t{kb} * s);
    read_symbols(plan_.first_symbol(id.sbn), block_);
    source.clear();
    for (std::uint32_t j = 0; j < kb; ++j) source.emplace_back(&block_[j * s], s);
    const fec::MutableSymbol out(scratch_);
    if (codec_->encode(source, std::span(&id.esi, 1), std::span(&out, 1)) != fec::Status::ok) {
      return Result::invalid;  // cannot happen: a decoded block and a parity ESI
    }
    fec::add_symbol(mix_, scratch_);
  }
  return on_symbol(p::SymbolPacket{wanted->esi >= k, packet.file_id, packet.sequence, wanted->sbn,
                                   wanted->esi, mix_});
}

void Assembler::decode_block(std::uint32_t sbn) {
  Block& b = blocks_[sbn];
  const std::uint32_t k = plan_.source_symbols(sbn);
  const std::size_t s = plan_.symbol_size();
  // The block read back (its source symbols, and its parity in their slots), decoded into
  // memory, then each run of recovered symbols written (the codec does not touch the entries
  // of held symbols).
  block_.resize(std::size_t{k} * s);
  read_symbols(plan_.first_symbol(sbn), block_);
  decoded_.resize(std::size_t{k} * s);
  std::vector<fec::Symbol> symbols(fec::kMaxEncodingSymbols);
  std::vector<fec::MutableSymbol> recovered(k);
  for (std::uint32_t j = 0; j < k; ++j) {
    if (b.source[j]) symbols[j] = fec::Symbol(&block_[j * s], s);
    recovered[j] = fec::MutableSymbol(&decoded_[j * s], s);
  }
  for (const auto& [esi, slot] : b.parity) symbols[esi] = fec::Symbol(&block_[slot * s], s);
  if (codec_->decode(k, symbols, recovered) != fec::Status::ok) return;  // cannot happen: k held
  for (std::uint32_t j = 0; j < k;) {
    if (b.source[j]) {
      ++j;
      continue;
    }
    std::uint32_t end = j;
    while (end < k && !b.source[end]) ++end;
    write_symbols(plan_.first_symbol(sbn) + j, std::span<const std::uint8_t>(decoded_).subspan(
                                                   std::size_t{j} * s, std::size_t{end - j} * s));
    j = end;
  }
  std::fill(b.source.begin(), b.source.end(), true);
  b.source_count = k;
  b.parity.clear();
  b.complete = true;
  ++complete_blocks_;
  ++counters_.blocks_decoded;
  dirty_ = true;
  block_complete(sbn);
}

void Assembler::allow_mixed(std::uint32_t round,
                            std::span<const std::array<std::uint8_t, 16>> hashes) {
  for (const auto& h : hashes) allowed_mixed_[h] = round;
  std::erase_if(allowed_mixed_, [&](const auto& e) { return e.second + 2 < round; });
}

void Assembler::block_complete(std::uint32_t sbn) {
  Block& b = blocks_[sbn];
  for (const auto& [esi, copies] : b.pending) {
    for (const auto& c : copies) pending_bytes_ -= c.size();
  }
  b.pending.clear();
  advance_digest();
}

void Assembler::advance_digest() {
  if (!running_) running_ = std::make_unique<p::Hasher>();
  while (digest_at_ < blocks_.size() && blocks_[digest_at_].complete) {
    const std::uint64_t s = plan_.symbol_size();
    const std::uint64_t first = plan_.first_symbol(digest_at_) * s;
    const std::uint64_t end = std::min<std::uint64_t>(
        update_.size, first + std::uint64_t{plan_.source_symbols(digest_at_)} * s);
    if (first < end) {
      digest_buf_.resize(static_cast<std::size_t>(end - first));
      read_at(first, digest_buf_);
      running_->update(digest_buf_);
    }
    ++digest_at_;
  }
}

std::uint32_t Assembler::complete_prefix() const {
  std::uint32_t n = 0;
  while (n < blocks_.size() && blocks_[n].complete) ++n;
  return n;
}

std::vector<std::uint8_t> Assembler::received_prefix(std::size_t max) const {
  const std::uint32_t blocks = complete_prefix();
  if (fd_ < 0 || blocks == 0) return {};
  const std::uint64_t end = blocks == plan_.block_count()
                                ? update_.size
                                : plan_.first_symbol(blocks) * plan_.symbol_size();
  std::vector<std::uint8_t> head(
      static_cast<std::size_t>(std::min<std::uint64_t>({end, update_.size, max})));
  read_at(0, head);
  return head;
}

std::vector<p::NakEntry> Assembler::missing(std::size_t max_entries) const {
  std::vector<p::NakEntry> out;
  for (std::uint32_t b = 0; b < blocks_.size() && out.size() <= max_entries; ++b) {
    const Block& blk = blocks_[b];
    if (blk.complete) continue;
    const std::uint32_t held =
        blk.source_count + static_cast<std::uint32_t>(blk.parity.size()) +
        (forgery_seen_ ? 0u : static_cast<std::uint32_t>(blk.pending.size()));
    if (held >= plan_.source_symbols(b)) continue;  // enough, once the chunk requests are met
    const auto need = static_cast<std::uint8_t>(plan_.source_symbols(b) - held);
    if (!out.empty() && out.back().need == need && out.back().first_block + out.back().run == b &&
        out.back().run < UINT16_MAX) {
      ++out.back().run;
    } else {
      out.push_back(p::NakEntry{b, need, 1});
    }
  }
  if (out.size() > max_entries) out.resize(max_entries);
  return out;
}

bool Assembler::set_digest(const p::Digest& digest) {
  if (digest_known() || digest == p::Digest{}) return false;
  update_.digest = digest;
  dirty_ = true;  // the state names it from the next checkpoint on
  return true;
}

std::optional<std::string> Assembler::finalize() {
  if (finalized_) return std::nullopt;
  if (!all_blocks()) return "not every block received";
  if (!digest_known()) return "the manager's digest has not come";
  advance_digest();  // every block is complete: the digest reaches the end
  const p::Digest got = running_->finish();
  running_.reset();
  digest_at_ = 0;
  digest_buf_ = {};
  if (got != update_.digest) {
    // Start over: the data cannot be trusted (a forged or corrupted symbol reached us).
    for (Block& b : blocks_) {
      std::fill(b.source.begin(), b.source.end(), false);
      b.source_count = 0;
      b.complete = false;
    }
    complete_blocks_ = 0;
    dirty_ = true;
    checkpoint();
    return "digest mismatch: discarded, receiving again";
  }
  // Finalized (truncate, rename, then the final state) only once a background checkpoint is
  // done: it would write its older state after that one.
  wait_for_sync(true);
  if (::ftruncate(fd_, static_cast<off_t>(update_.size)) != 0) fail(part_path_, "ftruncate");
  if (::fsync(fd_) != 0) fail(part_path_, "fsync");
  if (::rename(part_path_.c_str(), final_path_.c_str()) != 0) fail(final_path_, "rename");
  p::io::sync_directory(final_path_.parent_path());
  finalized_ = true;
  dirty_ = true;
  checkpoint();
  return std::nullopt;
}

}  // namespace fleetcast::receiver
