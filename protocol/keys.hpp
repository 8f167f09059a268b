#pragma once
// Ed25519 keys, key IDs and the text form of key files. Pure: generating a key draws from
// libsodium's CSPRNG, but reading and writing files is protocol/io/key_file.hpp's job.
//
// Key file text (one line, ASCII, LF-terminated):
//   fleetcast-ed25519-public-v1 <64 hex: public key> [<host name>]
//   fleetcast-ed25519-secret-v1 <64 hex: 32-byte seed>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/constants.hpp"
#include "protocol/result.hpp"

namespace fleetcast::protocol {

struct PublicKey {
  std::array<std::uint8_t, kPublicKeyBytes> bytes{};
  auto operator<=>(const PublicKey&) const = default;
};

// First 8 bytes (big-endian) of BLAKE2b-256 over the public key: names the signer on the wire.
struct KeyId {
  std::uint64_t value = 0;
  auto operator<=>(const KeyId&) const = default;
};

using Signature = std::array<std::uint8_t, kSignatureBytes>;

// An Ed25519 secret key (seed and the expanded form libsodium signs with). Wiped on destruction.
class SecretKey {
 public:
  static SecretKey generate();
  static SecretKey from_seed(const std::array<std::uint8_t, kSeedBytes>& seed);
  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;
  ~SecretKey();

  const PublicKey& public_key() const { return public_; }
  KeyId key_id() const;
  std::array<std::uint8_t, kSeedBytes> seed() const;
  // Ed25519 over the exact bytes given (callers add the signature domain: signature.hpp).
  Signature sign(std::span<const std::uint8_t> message) const;
  // X25519 of this key and `peer` (both converted from Ed25519, RFC 7748 / libsodium): the same
  // 32 bytes on both sides; nullopt for a peer key that is not a valid curve point.
  std::optional<std::array<std::uint8_t, 32>> shared_secret(const PublicKey& peer) const;
  // Opens an X25519 sealed box (libsodium crypto_box_seal) made for this key's public half.
  std::optional<std::vector<std::uint8_t>> open_sealed(std::span<const std::uint8_t> box) const;

 private:
  SecretKey() = default;
  std::array<std::uint8_t, 64> expanded_{};  // libsodium layout: seed || public key
  PublicKey public_;
};

KeyId key_id(const PublicKey& key);

// The key of the MAC a host puts on its feedback packets (COMPLETE, NAK) for the manager:
// BLAKE2b-256(domain | X25519 shared secret | the two public keys in ascending order). Host and
// manager derive the same key from their own secret key and the other's public key, without a
// message; anyone else cannot. The manager checks this cheap MAC before the signature, so a
// flood of packets copying a host's key ID costs it one short hash each, not a verification.
struct MacKey {
  std::array<std::uint8_t, 32> bytes{};
};
std::optional<MacKey> feedback_mac_key(const SecretKey& own, const PublicKey& peer);
// The key that wraps the fleet key (fleet_key.hpp) for one host in a KEYS line: derived like
// feedback_mac_key, with its own domain.
std::optional<MacKey> fleet_wrap_key(const SecretKey& own, const PublicKey& peer);
// Human fingerprint: "blake2b:" + 32 bytes of BLAKE2b-256 in hex groups of 4 ("ab12:cd34:...").
std::string fingerprint(const PublicKey& key);

std::string encode_public_key_file(const PublicKey& key, std::string_view host_name);
std::string encode_secret_key_file(const SecretKey& key);

struct PublicKeyFile {
  PublicKey key;
  std::string host_name;  // may be empty
};
Result<PublicKeyFile> parse_public_key_file(std::string_view text);
Result<SecretKey> parse_secret_key_file(std::string_view text);

}  // namespace fleetcast::protocol
