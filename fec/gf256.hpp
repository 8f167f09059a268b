#pragma once
// Scalar GF(2^8) arithmetic, polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d, the field ISA-L uses).
// Table based and slow on purpose: it defines the Cauchy coefficients and backs the reference
// codec. Bulk arithmetic belongs to ISA-L (isal_codec.cpp).

#include <array>
#include <cstdint>

namespace fleetcast::fec::gf256 {

struct Tables {
  std::array<std::uint8_t, 512> exp{};  // doubled so exp[log a + log b] needs no modulo
  std::array<std::uint8_t, 256> log{};
};

constexpr Tables make_tables() {
  Tables t;
  unsigned x = 1;
  for (unsigned i = 0; i < 255; ++i) {
    t.exp[i] = static_cast<std::uint8_t>(x);
    t.exp[i + 255] = static_cast<std::uint8_t>(x);
    t.log[x] = static_cast<std::uint8_t>(i);
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  return t;
}

inline constexpr Tables kTables = make_tables();

constexpr std::uint8_t mul(std::uint8_t a, std::uint8_t b) {
  if (a == 0 || b == 0) return 0;
  return kTables.exp[kTables.log[a] + kTables.log[b]];
}

// Precondition: a != 0.
constexpr std::uint8_t inv(std::uint8_t a) {
  return kTables.exp[255 - kTables.log[a]];
}

}  // namespace fleetcast::fec::gf256
