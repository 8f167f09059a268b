#include "protocol/bundle/seal.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/text.hpp"

namespace fleetcast::protocol::bundle {
namespace {

constexpr std::size_t kSignedBytes = kSealPayload - kSignatureBytes;  // magic..digest

void put_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_le32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void put_be64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}
std::uint64_t get_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::vector<std::uint8_t> seal(std::vector<std::uint8_t> content, const SecretKey& key) {
  const Digest d = digest(content);
  std::uint8_t s[kSealBytes];
  put_le32(s, kSkippableMagic);
  put_le32(s + 4, static_cast<std::uint32_t>(kSealPayload));
  std::uint8_t* payload = s + 8;
  std::memcpy(payload, kSealMagic.data(), 8);
  put_be64(payload + 8, key.key_id().value);
  put_be64(payload + 16, content.size());
  std::memcpy(payload + 24, d.data(), d.size());
  const Signature sig = sign(key, kBundleSignDomain, std::span(payload, kSignedBytes));
  std::memcpy(payload + kSignedBytes, sig.data(), sig.size());
  content.insert(content.end(), s, s + kSealBytes);
  return content;
}

bool read_seal(std::span<const std::uint8_t> bundle, Seal& out, std::string& reason) {
  if (bundle.size() < kSealBytes) {
    reason = "truncated: " + std::to_string(bundle.size()) + " bytes is shorter than a seal";
    return false;
  }
  const std::uint8_t* s = bundle.data() + bundle.size() - kSealBytes;
  const std::uint8_t* payload = s + 8;
  if (get_le32(s) != kSkippableMagic || get_le32(s + 4) != kSealPayload ||
      std::memcmp(payload, kSealMagic.data(), 8) != 0) {
    reason = "no fleetcast seal at the end (not a bundle, truncated, or another format)";
    return false;
  }
  out.signer = KeyId{get_be64(payload + 8)};
  out.content_size = get_be64(payload + 16);
  std::memcpy(out.content_digest.data(), payload + 24, kDigestBytes);
  if (out.content_size != bundle.size() - kSealBytes) {
    reason = "length mismatch: the seal covers " + std::to_string(out.content_size) +
             " bytes, the file holds " + std::to_string(bundle.size() - kSealBytes);
    return false;
  }
  return true;
}

Opened open(std::span<const std::uint8_t> bundle, const PublicKey& manager) {
  Opened o;
  if (!read_seal(bundle, o.seal, o.reason)) return o;
  const std::uint8_t* payload = bundle.data() + bundle.size() - kSealPayload;
  if (o.seal.signer != key_id(manager)) {
    o.reason = "signed by key " + text::hex64(o.seal.signer.value) +
               ", not by the trusted manager " + text::hex64(key_id(manager).value);
    return o;
  }
  Signature sig;
  std::memcpy(sig.data(), payload + kSignedBytes, sig.size());
  if (!verify(manager, kBundleSignDomain, std::span(payload, kSignedBytes), sig)) {
    o.reason = "bad signature on the seal";
    return o;
  }
  const auto content = bundle.first(o.seal.content_size);
  if (digest(content) != o.seal.content_digest) {
    o.reason = "digest mismatch: the content was modified after signing";
    return o;
  }
  o.ok = true;
  o.content = content;
  return o;
}

}  // namespace fleetcast::protocol::bundle
