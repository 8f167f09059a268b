// libFuzzer: FEC decode under arbitrary erasure patterns and shapes. The input picks k, the
// symbol size, which encoding symbols arrive, and the data; the decoded block must equal the
// source whenever k symbols arrived, and the ISA-L and reference codecs must agree.

#include <cstdlib>
#include <cstring>
#include <vector>

#include "fec/codec.hpp"

using namespace fleetcast::fec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const std::size_t k = 1 + data[0] % 32;
  const std::size_t n = k + 1 + data[1] % 32;
  const std::size_t s = 1 + data[2] % 64;
  data += 3;
  size -= 3;
  static auto isal = make_isal_codec();
  static auto ref = make_reference_codec();
  std::vector<std::uint8_t> block(n * s, 0);
  for (std::size_t i = 0; i < k * s && i < size; ++i) block[i] = data[i];
  std::vector<Symbol> src;
  for (std::size_t j = 0; j < k; ++j) src.emplace_back(&block[j * s], s);
  std::vector<std::uint8_t> esis;
  std::vector<MutableSymbol> parity;
  for (std::size_t e = k; e < n; ++e) {
    esis.push_back(static_cast<std::uint8_t>(e));
    parity.emplace_back(&block[e * s], s);
  }
  if (isal->encode(src, esis, parity) != Status::ok) std::abort();
  // Erasure mask from the tail of the input (bit set = symbol lost).
  std::vector<Symbol> symbols(n);
  std::size_t present = 0;
  for (std::size_t e = 0; e < n; ++e) {
    const std::size_t bit = size > 0 ? data[size - 1 - (e / 8) % size] >> (e % 8) & 1u : 0;
    if (!bit) {
      symbols[e] = Symbol(&block[e * s], s);
      ++present;
    }
  }
  std::vector<std::uint8_t> out_a(k * s), out_b(k * s);
  std::vector<MutableSymbol> rec_a, rec_b;
  for (std::size_t j = 0; j < k; ++j) {
    rec_a.emplace_back(&out_a[j * s], s);
    rec_b.emplace_back(&out_b[j * s], s);
  }
  const Status a = isal->decode(k, symbols, rec_a);
  const Status b = ref->decode(k, symbols, rec_b);
  if (a != b) std::abort();
  if (a != (present >= k ? Status::ok : Status::need_more_symbols)) std::abort();
  if (a != Status::ok) return 0;
  for (std::size_t j = 0; j < k; ++j) {
    if (symbols[j].empty() && (std::memcmp(&out_a[j * s], &block[j * s], s) != 0 ||
                               std::memcmp(&out_b[j * s], &block[j * s], s) != 0)) {
      std::abort();
    }
  }
  return 0;
}
