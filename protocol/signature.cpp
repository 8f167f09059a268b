#include "protocol/signature.hpp"

#include <sodium.h>

#include <vector>

namespace fleetcast::protocol {

static_assert(sizeof(crypto_generichash_state) <= 384);
static_assert(alignof(crypto_generichash_state) <= 64);
static_assert(crypto_generichash_BYTES == kDigestBytes);

namespace {
crypto_generichash_state* state(unsigned char* raw) {
  return reinterpret_cast<crypto_generichash_state*>(raw);
}

// domain || message, in a stack buffer for every message that fits a datagram.
template <class F>
auto with_domain(std::string_view domain, std::span<const std::uint8_t> message, F&& f) {
  std::array<std::uint8_t, 64 + kMaxDataDatagram> small;
  std::vector<std::uint8_t> large;
  std::uint8_t* buf = small.data();
  const std::size_t n = domain.size() + message.size();
  if (n > small.size()) {
    large.resize(n);
    buf = large.data();
  }
  std::copy(domain.begin(), domain.end(), buf);
  std::copy(message.begin(), message.end(), buf + domain.size());
  return f(std::span<const std::uint8_t>(buf, n));
}
}  // namespace

Hasher::Hasher() {
  if (sodium_init() < 0) __builtin_trap();  // libsodium unusable: nothing can be trusted
  crypto_generichash_init(state(state_), nullptr, 0, kDigestBytes);
}

void Hasher::update(std::span<const std::uint8_t> bytes) {
  crypto_generichash_update(state(state_), bytes.data(), bytes.size());
}

Digest Hasher::finish() {
  Digest d{};
  crypto_generichash_final(state(state_), d.data(), d.size());
  return d;
}

Digest digest(std::span<const std::uint8_t> bytes) {
  Hasher h;
  h.update(bytes);
  return h.finish();
}

Signature sign(const SecretKey& key, std::string_view domain,
               std::span<const std::uint8_t> message) {
  return with_domain(domain, message, [&](std::span<const std::uint8_t> m) { return key.sign(m); });
}

bool verify(const PublicKey& key, std::string_view domain, std::span<const std::uint8_t> message,
            const Signature& signature) {
  return with_domain(domain, message, [&](std::span<const std::uint8_t> m) {
    return crypto_sign_verify_detached(signature.data(), m.data(), m.size(), key.bytes.data()) == 0;
  });
}

}  // namespace fleetcast::protocol
