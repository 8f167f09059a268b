#include "protocol/bundle/seal.hpp"

#include <algorithm>
#include <array>

#include "protocol/bundle/crypt.hpp"
#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace fleetcast::protocol::bundle {
namespace {

constexpr std::size_t kSignedBytes = kSealPayload - kSignatureBytes;  // magic..digest
// The zstd skippable-frame header: magic and frame size, both little-endian (RFC 8878 §3.1.2).
constexpr std::uint8_t kFrameHeader[8] = {kSkippableMagic & 0xff,
                                          (kSkippableMagic >> 8) & 0xff,
                                          (kSkippableMagic >> 16) & 0xff,
                                          kSkippableMagic >> 24,
                                          kSealPayload & 0xff,
                                          0,
                                          0,
                                          0};

}  // namespace

std::vector<std::uint8_t> seal(std::vector<std::uint8_t> content, const SecretKey& key) {
  const Digest d = digest(content);
  std::uint8_t payload[kSealPayload];
  ByteWriter w(payload);
  w.bytes(as_bytes(kSealMagic));
  w.u64(key.key_id().value);
  w.u64(content.size());
  w.bytes(d);
  w.bytes(sign(key, kBundleSignDomain, w.written()));
  content.insert(content.end(), std::begin(kFrameHeader), std::end(kFrameHeader));
  content.insert(content.end(), std::begin(payload), std::end(payload));
  return content;
}

namespace {

// The seal of a bundle of `size` bytes whose last kSealBytes (or all, if fewer) are `tail`.
bool parse_seal(std::span<const std::uint8_t> tail, std::uint64_t size, Seal& out,
                std::string& reason) {
  if (size < kSealBytes) {
    reason = "truncated: " + std::to_string(size) + " bytes is shorter than a seal";
    return false;
  }
  ByteReader r(tail.last(kSealBytes));
  const auto header = r.view(sizeof kFrameHeader);
  const auto magic = r.view(kSealMagic.size());
  if (!std::equal(header.begin(), header.end(), std::begin(kFrameHeader)) ||
      !std::equal(magic.begin(), magic.end(), kSealMagic.begin())) {
    reason = "no fleetcast seal at the end (not a bundle, truncated, or another format)";
    return false;
  }
  out.signer = KeyId{r.u64()};
  out.content_size = r.u64();
  r.bytes(out.content_digest);
  if (out.content_size != size - kSealBytes) {
    reason = "length mismatch: the seal covers " + std::to_string(out.content_size) +
             " bytes, the file holds " + std::to_string(size - kSealBytes);
    return false;
  }
  return true;
}

// Everything but the content digest; `content_digest` hashes the content once the signature
// verified.
template <class DigestOf>
Opened open_sealed(std::span<const std::uint8_t> tail, std::uint64_t size, const PublicKey& manager,
                   DigestOf content_digest) {
  Opened o;
  if (!parse_seal(tail, size, o.seal, o.reason)) return o;
  const auto payload = tail.last(kSealPayload);
  if (o.seal.signer != key_id(manager)) {
    o.reason = "signed by key " + text::hex64(o.seal.signer.value) +
               ", not by the trusted manager " + text::hex64(key_id(manager).value);
    return o;
  }
  Signature sig;
  std::copy_n(payload.begin() + kSignedBytes, sig.size(), sig.begin());
  if (!verify(manager, kBundleSignDomain, payload.first(kSignedBytes), sig)) {
    o.reason = "bad signature on the seal";
    return o;
  }
  if (content_digest(o.seal.content_size) != o.seal.content_digest) {
    o.reason = "digest mismatch: the content was modified after signing";
    return o;
  }
  o.ok = true;
  return o;
}

}  // namespace

bool read_seal(std::span<const std::uint8_t> bundle, Seal& out, std::string& reason) {
  return parse_seal(bundle, bundle.size(), out, reason);
}

Opened open(std::span<const std::uint8_t> bundle, const PublicKey& manager) {
  Opened o = open_sealed(bundle, bundle.size(), manager,
                         [&](std::uint64_t n) { return digest(bundle.first(n)); });
  if (o.ok) o.content = bundle.first(o.seal.content_size);
  return o;
}

Opened open(const io::InputFile& bundle, const PublicKey& manager) {
  std::array<std::uint8_t, kSealBytes> tail{};
  const std::uint64_t size = bundle.size();
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(size, kSealBytes));
  bundle.read(size - n, std::span(tail).last(n));
  Opened o = open_sealed(std::span(tail).last(n), size, manager,
                         [&](std::uint64_t len) { return bundle.digest(0, len); });
  if (o.ok) {
    std::vector<std::uint8_t> head(
        std::min<std::uint64_t>(o.seal.content_size, kCryptMagic.size()));
    bundle.read(0, head);
    o.encrypted = is_encrypted(head);
  }
  return o;
}

std::vector<std::uint8_t> read_content(const io::InputFile& bundle, const Seal& seal) {
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(seal.content_size));
  bundle.read(0, bytes);
  return bytes;
}

}  // namespace fleetcast::protocol::bundle
