#pragma once
// Big-endian byte reader and writer over caller-owned buffers. The reader checks the length
// before every read and latches the first failure, so a decoder reads every field and checks
// once (mosh's "need more data" is a normal state here too: ok() == false, nothing read beyond).

#include <cstdint>
#include <cstring>
#include <span>

namespace fleetcast::protocol {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> in) : in_(in) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1)); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(take(2)); }
  std::uint32_t u24() { return static_cast<std::uint32_t>(take(3)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4)); }
  std::uint64_t u64() { return take(8); }
  // Copies exactly out.size() bytes, or fails and zero-fills.
  void bytes(std::span<std::uint8_t> out);
  // A view of the next n bytes (empty on failure).
  std::span<const std::uint8_t> view(std::size_t n);

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  std::size_t position() const { return pos_; }

 private:
  std::uint64_t take(std::size_t n);
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::span<std::uint8_t> out) : out_(out) {}

  void u8(std::uint8_t v) { put(v, 1); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u24(std::uint32_t v) { put(v, 3); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void bytes(std::span<const std::uint8_t> in);

  // false once any write did not fit; nothing is written past the buffer.
  bool ok() const { return ok_; }
  std::size_t size() const { return pos_; }
  std::span<std::uint8_t> written() const { return out_.first(pos_); }

 private:
  void put(std::uint64_t v, std::size_t n);
  std::span<std::uint8_t> out_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace fleetcast::protocol
