#pragma once
// BLAKE2b-256 digests and domain-separated Ed25519 signatures.
//
// Every signature fleetcast makes covers  domain || message  where the domain names the message
// family and its version (constants.hpp): a signature made for a ctrl line can never verify as a
// feedback packet, nor a v1 message as a later version.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/constants.hpp"
#include "protocol/keys.hpp"

namespace fleetcast::protocol {

using Digest = std::array<std::uint8_t, kDigestBytes>;

// Streaming BLAKE2b-256 (a whole bundle is hashed while it is read or received).
class Hasher {
 public:
  Hasher();
  void update(std::span<const std::uint8_t> bytes);
  Digest finish();  // once; the hasher must not be used afterwards

 private:
  alignas(64) unsigned char state_[384];  // crypto_generichash_state; size checked in .cpp
};

Digest digest(std::span<const std::uint8_t> bytes);

Signature sign(const SecretKey& key, std::string_view domain,
               std::span<const std::uint8_t> message);
bool verify(const PublicKey& key, std::string_view domain, std::span<const std::uint8_t> message,
            const Signature& signature);

// Byte-view helper for text.
inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace fleetcast::protocol
