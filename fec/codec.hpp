#pragma once
// Block erasure code: a systematic Reed-Solomon code over GF(2^8) with a Cauchy generator.
//
// A block holds k source symbols of S bytes (ESI 0..k-1). Parity symbol with ESI e (k <= e <
// kMaxEncodingSymbols) is  P_e = sum_j C(e, j) * X_j  with  C(e, j) = 1 / (e XOR j)  in GF(2^8)
// (polynomial 0x11d). Every square submatrix of a Cauchy matrix is invertible, so ANY k distinct
// symbols of a block recover it (MDS), and a parity row does not depend on how many parity
// symbols are sent: the sender can always produce a never-sent index for repair (RFC 5510 §8
// describes the same idea with a Vandermonde generator).
//
// API in Leopard's shape: the caller owns every buffer, a missing symbol is an empty span,
// parameters are validated before any work. A Codec object caches coding tables and is not
// thread-safe: use one per thread.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace fleetcast::fec {

// GF(2^8) has 255 non-zero elements: ESI 0..254 keeps e XOR j non-zero for every e >= k > j.
inline constexpr std::size_t kMaxEncodingSymbols = 255;
// At least one parity index must remain available to the repair path.
inline constexpr std::size_t kMaxSourceSymbols = kMaxEncodingSymbols - 1;

// Default symbol size: 1500 Ethernet MTU - 40 IPv6 - 8 UDP - 12 fleetcast header = 1440 bytes of
// room; 1400 leaves 40 bytes for an IPsec ESP or tunnel header (the paper runs over IPsec).
inline constexpr std::size_t kDefaultSymbolSize = 1400;
// Default source symbols per block: 128 x 1400 B = 179 KB blocks. Repair must never run out of
// fresh parity indices: the WORST of many hosts decides each block's repair, and at 30 % loss it
// needs about k * 0.43 plus margin over the rounds. 128 leaves 127 indices (~100 % of k, enough
// up to ~45 % loss); k = 200 left only 55, and fleet tests at 20 % loss ran out of them and had
// to resend source symbols most hosts already held. A 64 MiB bundle still spans 375 blocks for
// interleaving, and smaller blocks decode faster.
inline constexpr std::size_t kDefaultSourceSymbols = 128;

enum class Status {
  ok,
  need_more_symbols,     // fewer than k distinct symbols present: not an error, wait for more
  invalid_block,         // k == 0, k > kMaxSourceSymbols, or too many symbol slots
  invalid_esi,           // a requested parity ESI < k or >= kMaxEncodingSymbols
  symbol_size_mismatch,  // buffers of differing sizes, or an empty required buffer
};

std::string_view to_string(Status status);

using Symbol = std::span<const std::uint8_t>;  // empty = missing
using MutableSymbol = std::span<std::uint8_t>;

class Codec {
 public:
  virtual ~Codec() = default;

  // Writes parity symbol esis[i] into parity[i]. source holds the k source symbols of the block;
  // every source and parity buffer has the same non-zero size. Parity buffers must not alias
  // source buffers.
  virtual Status encode(std::span<const Symbol> source, std::span<const std::uint8_t> esis,
                        std::span<const MutableSymbol> parity) = 0;

  // symbols is indexed by ESI (at most kMaxEncodingSymbols entries; entries >= k are parity);
  // an empty span marks a missing symbol. Recovers every missing source symbol j < k into
  // recovered[j] (k entries; entries of present symbols are not touched and may be empty).
  // Returns need_more_symbols when fewer than k symbols are present; nothing is written then.
  virtual Status decode(std::size_t k, std::span<const Symbol> symbols,
                        std::span<const MutableSymbol> recovered) = 0;
};

// dst += src in GF(2^8), i.e. XOR; the spans have the same size. Cross-block repair sums symbols
// of different blocks with it (protocol/README.md, MIXED).
inline void add_symbol(MutableSymbol dst, Symbol src) {
  std::size_t i = 0;
  for (; i + 8 <= dst.size(); i += 8) {
    std::uint64_t a, b;
    std::memcpy(&a, &dst[i], 8);
    std::memcpy(&b, &src[i], 8);
    a ^= b;
    std::memcpy(&dst[i], &a, 8);
  }
  for (; i < dst.size(); ++i) dst[i] ^= src[i];
}

// The production codec on Intel ISA-L (SIMD-dispatched at run time).
std::unique_ptr<Codec> make_isal_codec();
// A slow, independent codec (table GF arithmetic, Gaussian elimination): the test oracle.
std::unique_ptr<Codec> make_reference_codec();

// Cauchy coefficient C(esi, j) used by both codecs; esi >= k > j.
std::uint8_t cauchy_coefficient(std::size_t esi, std::size_t j);

}  // namespace fleetcast::fec
