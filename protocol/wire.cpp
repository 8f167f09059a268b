#include "protocol/wire.hpp"

#include <algorithm>

namespace fleetcast::protocol {

std::uint64_t ByteReader::take(std::size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return 0;
  }
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | in_[pos_ + i];
  pos_ += n;
  return v;
}

void ByteReader::bytes(std::span<std::uint8_t> out) {
  const auto v = view(out.size());
  if (v.size() == out.size()) {
    std::copy(v.begin(), v.end(), out.begin());
  } else {
    std::fill(out.begin(), out.end(), 0);
  }
}

std::span<const std::uint8_t> ByteReader::view(std::size_t n) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return {};
  }
  const auto v = in_.subspan(pos_, n);
  pos_ += n;
  return v;
}

void ByteWriter::put(std::uint64_t v, std::size_t n) {
  if (!ok_ || out_.size() - pos_ < n) {
    ok_ = false;
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    out_[pos_ + i] = static_cast<std::uint8_t>(v >> (8 * (n - 1 - i)));
  }
  pos_ += n;
}

void ByteWriter::bytes(std::span<const std::uint8_t> in) {
  if (!ok_ || out_.size() - pos_ < in.size()) {
    ok_ = false;
    return;
  }
  std::copy(in.begin(), in.end(), out_.begin() + static_cast<std::ptrdiff_t>(pos_));
  pos_ += in.size();
}

}  // namespace fleetcast::protocol
