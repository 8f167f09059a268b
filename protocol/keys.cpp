#include "protocol/keys.hpp"

#include <sodium.h>

#include <algorithm>

#include "protocol/signature.hpp"
#include "protocol/text.hpp"

namespace fleetcast::protocol {
namespace {

constexpr std::string_view kPublicTag = "fleetcast-ed25519-public-v1";
constexpr std::string_view kSecretTag = "fleetcast-ed25519-secret-v1";

void init_sodium() {
  if (sodium_init() < 0) __builtin_trap();  // no CSPRNG: refuse to make keys at all
}

// Splits "tag field [field]\n"; the trailing LF is required, CR is not accepted.
bool split_line(std::string_view text, std::string_view tag, std::string_view& a,
                std::string_view& b) {
  if (text.size() < 2 || text.back() != '\n') return false;
  text.remove_suffix(1);
  if (text.substr(0, tag.size()) != tag || text.size() <= tag.size() || text[tag.size()] != ' ') {
    return false;
  }
  text.remove_prefix(tag.size() + 1);
  const std::size_t sp = text.find(' ');
  a = text.substr(0, sp);
  b = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  return sp == std::string_view::npos || !b.empty();
}

}  // namespace

SecretKey SecretKey::generate() {
  init_sodium();
  std::array<std::uint8_t, kSeedBytes> seed{};
  randombytes_buf(seed.data(), seed.size());
  SecretKey k = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

SecretKey SecretKey::from_seed(const std::array<std::uint8_t, kSeedBytes>& seed) {
  init_sodium();
  SecretKey k;
  crypto_sign_seed_keypair(k.public_.bytes.data(), k.expanded_.data(), seed.data());
  return k;
}

SecretKey::~SecretKey() {
  sodium_memzero(expanded_.data(), expanded_.size());
}

KeyId SecretKey::key_id() const {
  return protocol::key_id(public_);
}

std::array<std::uint8_t, kSeedBytes> SecretKey::seed() const {
  std::array<std::uint8_t, kSeedBytes> s{};
  std::copy_n(expanded_.begin(), kSeedBytes, s.begin());
  return s;
}

Signature SecretKey::sign(std::span<const std::uint8_t> message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), expanded_.data());
  return sig;
}

std::optional<std::array<std::uint8_t, 32>> SecretKey::shared_secret(const PublicKey& peer) const {
  std::array<std::uint8_t, 32> own_x{}, peer_x{}, shared{};
  std::optional<std::array<std::uint8_t, 32>> out;
  if (crypto_sign_ed25519_sk_to_curve25519(own_x.data(), expanded_.data()) == 0 &&
      crypto_sign_ed25519_pk_to_curve25519(peer_x.data(), peer.bytes.data()) == 0 &&
      crypto_scalarmult(shared.data(), own_x.data(), peer_x.data()) == 0) {
    out = shared;
  }
  sodium_memzero(own_x.data(), own_x.size());
  sodium_memzero(shared.data(), shared.size());
  return out;
}

std::optional<std::vector<std::uint8_t>> SecretKey::open_sealed(
    std::span<const std::uint8_t> box) const {
  if (box.size() < crypto_box_SEALBYTES) return std::nullopt;
  std::array<std::uint8_t, 32> x_sk{}, x_pk{};
  std::vector<std::uint8_t> out(box.size() - crypto_box_SEALBYTES);
  const bool ok =
      crypto_sign_ed25519_sk_to_curve25519(x_sk.data(), expanded_.data()) == 0 &&
      crypto_sign_ed25519_pk_to_curve25519(x_pk.data(), public_.bytes.data()) == 0 &&
      crypto_box_seal_open(out.data(), box.data(), box.size(), x_pk.data(), x_sk.data()) == 0;
  sodium_memzero(x_sk.data(), x_sk.size());
  if (!ok) return std::nullopt;
  return out;
}

namespace {

// BLAKE2b-256(domain | X25519 shared secret | both public keys in ascending order).
std::optional<MacKey> pair_key(const SecretKey& own, const PublicKey& peer,
                               std::string_view kDomain) {
  auto shared = own.shared_secret(peer);
  if (!shared) return std::nullopt;
  const PublicKey* lo = &own.public_key();
  const PublicKey* hi = &peer;
  if (hi->bytes < lo->bytes) std::swap(lo, hi);
  crypto_generichash_state state;
  MacKey key;
  crypto_generichash_init(&state, nullptr, 0, key.bytes.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  crypto_generichash_update(&state, shared->data(), shared->size());
  crypto_generichash_update(&state, lo->bytes.data(), lo->bytes.size());
  crypto_generichash_update(&state, hi->bytes.data(), hi->bytes.size());
  crypto_generichash_final(&state, key.bytes.data(), key.bytes.size());
  sodium_memzero(shared->data(), shared->size());
  return key;
}

}  // namespace

std::optional<MacKey> feedback_mac_key(const SecretKey& own, const PublicKey& peer) {
  return pair_key(own, peer, "fleetcast feedback mac v1\n");
}

std::optional<MacKey> fleet_wrap_key(const SecretKey& own, const PublicKey& peer) {
  return pair_key(own, peer, "fleetcast fleet key wrap v1\n");
}

KeyId key_id(const PublicKey& key) {
  const Digest d = digest(key.bytes);
  KeyId id;
  for (std::size_t i = 0; i < kKeyIdBytes; ++i) id.value = id.value << 8 | d[i];
  return id;
}

std::string fingerprint(const PublicKey& key) {
  const std::string h = text::hex(digest(key.bytes));
  std::string out = "blake2b";
  for (std::size_t i = 0; i < h.size(); i += 4) out.append(":").append(h, i, 4);
  return out;
}

std::string encode_public_key_file(const PublicKey& key, std::string_view host_name) {
  std::string out = std::string(kPublicTag) + " " + text::hex(key.bytes);
  if (!host_name.empty()) out.append(" ").append(host_name);
  return out + "\n";
}

std::string encode_secret_key_file(const SecretKey& key) {
  auto seed = key.seed();
  std::string out = std::string(kSecretTag) + " " + text::hex(seed) + "\n";
  sodium_memzero(seed.data(), seed.size());
  return out;
}

Result<PublicKeyFile> parse_public_key_file(std::string_view text) {
  std::string_view key_hex, host;
  if (!split_line(text, kPublicTag, key_hex, host))
    return Failure{Error::bad_key, "public key file"};
  PublicKeyFile f;
  if (!text::unhex(key_hex, f.key.bytes)) return Failure{Error::bad_key, "public key"};
  if (!host.empty() && !text::is_host_name(host)) return Failure{Error::bad_character, "host name"};
  f.host_name = host;
  return f;
}

Result<SecretKey> parse_secret_key_file(std::string_view text) {
  std::string_view seed_hex, rest;
  if (!split_line(text, kSecretTag, seed_hex, rest) || !rest.empty()) {
    return Failure{Error::bad_key, "secret key file"};
  }
  std::array<std::uint8_t, kSeedBytes> seed{};
  if (!text::unhex(seed_hex, seed)) return Failure{Error::bad_key, "secret key"};
  SecretKey k = SecretKey::from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return k;
}

}  // namespace fleetcast::protocol
