#pragma once
// The signed envelope of a bundle. A bundle file is
//
//   [ zstd frame(s): a tar archive ]  [ zstd skippable frame: the seal, 120 bytes ]
//
// so `zstd -dc x.fcb | tar -tv` (or `tar --zstd -tvf x.fcb`) lists it: decoders skip the seal.
// The seal names the manager key, the content length and its BLAKE2b-256, signed with Ed25519
// under kBundleSignDomain. open() checks all of it before a single byte of the content is
// decompressed or parsed. protocol/README.md has the byte diagram.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocol/io/random_access.hpp"
#include "protocol/keys.hpp"
#include "protocol/signature.hpp"

namespace fleetcast::protocol::bundle {

inline constexpr std::string_view kBundleSignDomain = "fleetcast bundle v1\n";
inline constexpr std::uint32_t kSkippableMagic = 0x184D2A5F;  // zstd skippable frame, nibble F
inline constexpr std::string_view kSealMagic = "FCBUNDL1";    // seal format version 1
inline constexpr std::size_t kSealPayload = 8 + 8 + 8 + kDigestBytes + kSignatureBytes;  // 120
inline constexpr std::size_t kSealBytes = 8 + kSealPayload;  // + skippable frame header

struct Seal {
  KeyId signer;
  std::uint64_t content_size = 0;
  Digest content_digest{};
};

// Appends the seal for `content` (the zstd-compressed tar) signed with `key`.
std::vector<std::uint8_t> seal(std::vector<std::uint8_t> content, const SecretKey& key);

// Why a bundle was refused, for the operator and the FIN.
struct Opened {
  bool ok = false;
  std::string reason;                     // when !ok
  Seal seal;                              // when ok
  std::span<const std::uint8_t> content;  // the compressed tar, only when ok
  bool encrypted = false;                 // open(InputFile): the content is an envelope (crypt.hpp)
};

// Verifies the seal against the trusted manager key. Reads nothing past the seal on failure.
Opened open(std::span<const std::uint8_t> bundle, const PublicKey& manager);
// The same for a bundle file, read in pieces; `content` stays empty (the content is the file's
// first seal.content_size bytes) and `encrypted` tells whether it is an envelope.
Opened open(const io::InputFile& bundle, const PublicKey& manager);
// The content of an opened bundle file, in memory (an envelope to decrypt).
std::vector<std::uint8_t> read_content(const io::InputFile& bundle, const Seal& seal);

// The seal as found, unverified (for `bundle inspect` of a foreign bundle).
bool read_seal(std::span<const std::uint8_t> bundle, Seal& out, std::string& reason);

}  // namespace fleetcast::protocol::bundle
