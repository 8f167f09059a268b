#pragma once
// Optional payload encryption of a bundle (`bundle create --encrypt`), for bundles that carry
// secrets: failover and OMAPI keys, TSIG keys, passwords. The compressed tar is encrypted once
// for the whole fleet with a random content key, XChaCha20-Poly1305 (libsodium secretstream,
// 64 KiB chunks), and the content key is wrapped for each recipient host with an X25519 sealed
// box to its key (the Ed25519 host key converted to Curve25519). The manager that creates it
// is always a recipient (it reads the manifest to announce the bundle). The envelope replaces
// the compressed tar as the content the seal signs, so a host checks the signature before it
// decrypts anything, and an observer of the LAN, or a host that is not a recipient, learns the
// size and the recipients' key IDs, nothing else.
//
//   "FCCRYPT1" (8) | n (4) | n × [ key ID (8) | sealed content key (80) ]
//   | secretstream header (24) | chunks of 64 KiB + 17 bytes, the last one tagged FINAL
//
// The recipient table is the associated data of the first chunk: it cannot be changed without
// the decryption failing (and the seal failing first).

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/keys.hpp"

namespace fleetcast::protocol::bundle {

inline constexpr std::string_view kCryptMagic = "FCCRYPT1";
inline constexpr std::size_t kSealedKeyBytes = 80;  // crypto_box_SEALBYTES + 32
inline constexpr std::size_t kMaxRecipients = 65536;

// `plain`: the compressed tar; `recipients`: every host that may read it (and the manager).
std::vector<std::uint8_t> encrypt(std::span<const std::uint8_t> plain,
                                  const std::vector<PublicKey>& recipients);

bool is_encrypted(std::span<const std::uint8_t> content);
// The recipients' key IDs, from as much of the envelope as is given (nullopt: not enough
// bytes yet, or not an envelope).
std::optional<std::vector<KeyId>> recipients(std::span<const std::uint8_t> content);

struct Decrypted {
  bool ok = false;
  std::string reason;  // when !ok: not a recipient, or damaged
  std::vector<std::uint8_t> plain;
};
Decrypted decrypt(std::span<const std::uint8_t> content, const SecretKey& own);

}  // namespace fleetcast::protocol::bundle
