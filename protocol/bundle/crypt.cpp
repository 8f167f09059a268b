#include "protocol/bundle/crypt.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "protocol/signature.hpp"
#include "protocol/text.hpp"
#include "protocol/wire.hpp"

namespace fleetcast::protocol::bundle {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kEntry = kKeyIdBytes + kSealedKeyBytes;
static_assert(kSealedKeyBytes ==
              crypto_box_SEALBYTES + crypto_secretstream_xchacha20poly1305_KEYBYTES);

std::size_t table_bytes(std::size_t n) {
  return kCryptMagic.size() + 4 + n * kEntry;
}

}  // namespace

std::vector<std::uint8_t> encrypt(std::span<const std::uint8_t> plain,
                                  const std::vector<PublicKey>& recipients) {
  if (recipients.empty() || recipients.size() > kMaxRecipients) {
    throw std::invalid_argument("an encrypted bundle needs 1 to 65536 recipients");
  }
  if (sodium_init() < 0) throw std::runtime_error("libsodium unusable");
  std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_KEYBYTES> key{};
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  const std::size_t chunks = plain.size() / kChunk + 1;
  std::vector<std::uint8_t> out(table_bytes(recipients.size()) +
                                crypto_secretstream_xchacha20poly1305_HEADERBYTES + plain.size() +
                                chunks * crypto_secretstream_xchacha20poly1305_ABYTES);
  ByteWriter w(out);
  w.bytes(as_bytes(kCryptMagic));
  w.u32(static_cast<std::uint32_t>(recipients.size()));
  for (const PublicKey& r : recipients) {
    std::array<std::uint8_t, 32> x{};
    std::array<std::uint8_t, kSealedKeyBytes> sealed{};
    if (crypto_sign_ed25519_pk_to_curve25519(x.data(), r.bytes.data()) != 0 ||
        crypto_box_seal(sealed.data(), key.data(), key.size(), x.data()) != 0) {
      sodium_memzero(key.data(), key.size());
      throw std::invalid_argument("a recipient's public key is not a valid curve point");
    }
    w.u64(key_id(r).value);
    w.bytes(sealed);
  }
  const std::size_t table = w.size();
  crypto_secretstream_xchacha20poly1305_state st;
  std::array<std::uint8_t, crypto_secretstream_xchacha20poly1305_HEADERBYTES> header{};
  crypto_secretstream_xchacha20poly1305_init_push(&st, header.data(), key.data());
  sodium_memzero(key.data(), key.size());
  w.bytes(header);
  std::size_t at = w.size();
  for (std::size_t i = 0; i < chunks; ++i) {
    const std::size_t from = i * kChunk;
    const std::size_t len = std::min(kChunk, plain.size() - from);
    const bool last = i + 1 == chunks;
    unsigned long long written = 0;
    crypto_secretstream_xchacha20poly1305_push(
        &st, &out[at], &written, plain.data() + from, len, i == 0 ? out.data() : nullptr,
        i == 0 ? table : 0, last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    at += static_cast<std::size_t>(written);
  }
  out.resize(at);
  return out;
}

bool is_encrypted(std::span<const std::uint8_t> content) {
  return content.size() >= kCryptMagic.size() &&
         std::memcmp(content.data(), kCryptMagic.data(), kCryptMagic.size()) == 0;
}

std::optional<std::vector<KeyId>> recipients(std::span<const std::uint8_t> content) {
  if (!is_encrypted(content) || content.size() < table_bytes(0)) return std::nullopt;
  ByteReader r(content.subspan(kCryptMagic.size()));
  const std::uint32_t n = r.u32();
  if (n == 0 || n > kMaxRecipients || content.size() < table_bytes(n)) return std::nullopt;
  std::vector<KeyId> out;
  for (std::uint32_t i = 0; i < n; ++i) {
    out.push_back(KeyId{r.u64()});
    (void)r.view(kSealedKeyBytes);
  }
  return out;
}

Decrypted decrypt(std::span<const std::uint8_t> content, const SecretKey& own) {
  Decrypted d;
  const auto ids = recipients(content);
  if (!ids) {
    d.reason = "not an encrypted bundle, or its recipient table is cut short";
    return d;
  }
  const auto mine = std::find(ids->begin(), ids->end(), own.key_id());
  if (mine == ids->end()) {
    d.reason = "encrypted for " + std::to_string(ids->size()) +
               " other key(s), not for this host (key ID " + text::hex64(own.key_id().value) + ")";
    return d;
  }
  const std::size_t table = table_bytes(ids->size());
  const std::size_t entry =
      table_bytes(0) + static_cast<std::size_t>(mine - ids->begin()) * kEntry + kKeyIdBytes;
  const auto key = own.open_sealed(content.subspan(entry, kSealedKeyBytes));
  if (!key || key->size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
    d.reason = "the content key for this host does not open";
    return d;
  }
  auto rest = content.subspan(table);
  if (rest.size() < crypto_secretstream_xchacha20poly1305_HEADERBYTES) {
    d.reason = "the encrypted content is cut short";
    return d;
  }
  crypto_secretstream_xchacha20poly1305_state st;
  crypto_secretstream_xchacha20poly1305_init_pull(&st, rest.data(), key->data());
  rest = rest.subspan(crypto_secretstream_xchacha20poly1305_HEADERBYTES);
  bool first = true, final = false;
  std::vector<std::uint8_t> chunk(kChunk);
  while (!rest.empty() && !final) {
    const std::size_t len =
        std::min(rest.size(), kChunk + crypto_secretstream_xchacha20poly1305_ABYTES);
    unsigned long long got = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st, chunk.data(), &got, &tag, rest.data(), len,
                                                   first ? content.data() : nullptr,
                                                   first ? table : 0) != 0) {
      d.reason = "the encrypted content does not authenticate (damaged or altered)";
      d.plain.clear();
      return d;
    }
    d.plain.insert(d.plain.end(), chunk.begin(), chunk.begin() + static_cast<long>(got));
    final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    first = false;
    rest = rest.subspan(len);
  }
  if (!final || !rest.empty()) {
    d.reason = "the encrypted content is cut short or has trailing bytes";
    d.plain.clear();
    return d;
  }
  d.ok = true;
  return d;
}

}  // namespace fleetcast::protocol::bundle
