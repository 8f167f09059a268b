#pragma once
// Deterministic keys for golden vectors: Ed25519 signatures are deterministic, so a fixed seed
// makes every signed line and packet a fixed byte string.

#include <array>

#include "protocol/keys.hpp"

namespace fleetcast::protocol::testing {

inline SecretKey seeded_key(std::uint8_t first) {
  std::array<std::uint8_t, kSeedBytes> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(first + i);
  return SecretKey::from_seed(seed);
}

}  // namespace fleetcast::protocol::testing
