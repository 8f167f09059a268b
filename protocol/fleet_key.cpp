#include "protocol/fleet_key.hpp"

#include <sodium.h>

#include "protocol/text.hpp"

namespace fleetcast::protocol {
namespace {

constexpr std::string_view kMacField = " mac=";
constexpr std::string_view kKeysVerb = "KEYS ";
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kBoxBytes = 32 + crypto_aead_xchacha20poly1305_ietf_ABYTES;

LineMac mac_of(std::string_view bytes, const MacKey& key) {
  LineMac out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size(), key.bytes.data(), key.bytes.size());
  return out;
}

// Associated data of one sealed entry: it opens only as this manager's key for this host.
std::array<std::uint8_t, 34> entry_ad(KeyId manager, KeyId host) {
  std::array<std::uint8_t, 34> ad{'k', '1'};
  for (std::size_t i = 0; i < 8; ++i) {
    ad[2 + i] = static_cast<std::uint8_t>(manager.value >> (56 - 8 * i));
    ad[10 + i] = static_cast<std::uint8_t>(host.value >> (56 - 8 * i));
  }
  return ad;  // the rest: zero (room for a version)
}

}  // namespace

MacKey fleet_key(const SecretKey& manager) {
  static constexpr std::string_view kDomain = "fleetcast fleet key v1\n";
  const auto seed = manager.seed();
  MacKey key;
  crypto_generichash(key.bytes.data(), key.bytes.size(),
                     reinterpret_cast<const unsigned char*>(kDomain.data()), kDomain.size(),
                     seed.data(), seed.size());
  return key;
}

std::string with_line_mac(std::string line, const MacKey& key) {
  const LineMac m = mac_of(line, key);
  line += kMacField;
  line += text::hex(m);
  return line;
}

Result<std::string> encode_maced_command(const Command& command, const SecretKey& key,
                                         const MacKey& mac) {
  auto line = encode_command(command, key);
  if (!line) return line;
  std::string maced = with_line_mac(std::move(line.value()), mac);
  if (maced.size() > kMaxControlDatagram) return Failure{Error::too_long, "line with its MAC"};
  return maced;
}

MacedLine split_line_mac(std::string_view line) {
  constexpr std::size_t tail = kMacField.size() + 2 * kLineMacBytes;
  if (line.size() > tail && line.substr(line.size() - tail, kMacField.size()) == kMacField) {
    LineMac m{};
    if (text::unhex(line.substr(line.size() - 2 * kLineMacBytes), m)) {
      return {line.substr(0, line.size() - tail), m};
    }
  }
  return {line, std::nullopt};
}

bool line_mac_ok(const MacedLine& line, const MacKey& key) {
  if (!line.mac) return false;
  const LineMac expected = mac_of(line.signed_line, key);
  return sodium_memcmp(expected.data(), line.mac->data(), expected.size()) == 0;
}

std::vector<std::string> encode_keys_lines(KeyId manager, const MacKey& fleet,
                                           std::span<const KeysRecipient> recipients) {
  std::vector<std::string> lines;
  for (std::size_t first = 0; first < recipients.size(); first += kMaxKeysEntries) {
    std::array<std::uint8_t, kNonceBytes> nonce{};
    randombytes_buf(nonce.data(), nonce.size());
    std::string line(kKeysVerb);
    line += text::hex64(manager.value);
    line += ' ';
    line += text::hex(nonce);
    for (std::size_t i = first; i < recipients.size() && i < first + kMaxKeysEntries; ++i) {
      const auto ad = entry_ad(manager, recipients[i].host);
      std::array<std::uint8_t, kBoxBytes> box{};
      crypto_aead_xchacha20poly1305_ietf_encrypt(box.data(), nullptr, fleet.bytes.data(),
                                                 fleet.bytes.size(), ad.data(), ad.size(), nullptr,
                                                 nonce.data(), recipients[i].wrap.bytes.data());
      line += ' ';
      line += text::hex64(recipients[i].host.value);
      line += ':';
      line += text::hex(box);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

bool is_keys_line(std::string_view line) {
  return line.substr(0, kKeysVerb.size()) == kKeysVerb;
}

std::optional<MacKey> open_keys_line(std::string_view line, KeyId manager, KeyId self,
                                     const MacKey& wrap) {
  if (!is_keys_line(line) || line.size() > kMaxControlDatagram) return std::nullopt;
  const auto fields = text::split(line.substr(kKeysVerb.size()), ' ');
  std::uint64_t id = 0;
  std::array<std::uint8_t, kNonceBytes> nonce{};
  if (fields.size() < 3 || fields.size() > 2 + kMaxKeysEntries || !text::unhex64(fields[0], id) ||
      id != manager.value || !text::unhex(fields[1], nonce)) {
    return std::nullopt;
  }
  const std::string want = text::hex64(self.value) + ':';
  for (std::size_t i = 2; i < fields.size(); ++i) {
    std::string_view f = fields[i];
    if (f.substr(0, want.size()) != want) continue;
    std::array<std::uint8_t, kBoxBytes> box{};
    if (!text::unhex(f.substr(want.size()), box)) return std::nullopt;
    const auto ad = entry_ad(manager, self);
    MacKey key;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(key.bytes.data(), nullptr, nullptr, box.data(),
                                                   box.size(), ad.data(), ad.size(), nonce.data(),
                                                   wrap.bytes.data()) != 0) {
      return std::nullopt;
    }
    return key;
  }
  return std::nullopt;
}

}  // namespace fleetcast::protocol
