#pragma once
// The fleet key: a MAC key the manager shares with every host it serves, so that a host drops a
// forged message for the price of one short keyed hash, before any signature verification and
// whatever source address the forger puts on it (protocol/README.md, "Fleet key").
//
// * The key is BLAKE2b-256 keyed with the manager's secret seed: the same for every session
//   and every manager process with this key; it changes with the manager's key.
// * Every line the manager signs carries " mac=" + 32 hex digits after its signature: the
//   BLAKE2b-128 of the whole signed line, keyed with the fleet key. The manager's data-session
//   packets (ROUND, MIXED-TABLE, COMPLETE-ACK) carry the same MAC in their trailer (data.hpp).
//   A host's lines (RECV, DENY, FIN) carry one keyed with its own feedback MAC key (keys.hpp).
// * Hosts learn the key from KEYS lines: the key sealed for each host (XChaCha20-Poly1305 with
//   a key only that host and the manager derive, keys.hpp fleet_wrap_key). A KEYS line is not
//   signed: opening one's own entry authenticates it, and costs a host one AEAD decryption.
//
// The MAC is a filter, never the authority: a host with the fleet key can make it, so a line
// that passes is still verified (under the budget of verify_budget.hpp). Pure.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/keys.hpp"

namespace fleetcast::protocol {

inline constexpr std::size_t kLineMacBytes = 16;
using LineMac = std::array<std::uint8_t, kLineMacBytes>;

MacKey fleet_key(const SecretKey& manager);

// `line` + " mac=" + the MAC of `line`.
std::string with_line_mac(std::string line, const MacKey& key);
// Encodes, signs and MACs a command.
Result<std::string> encode_maced_command(const Command& command, const SecretKey& key,
                                         const MacKey& mac);
struct MacedLine {
  std::string_view signed_line;  // the line without its MAC
  std::optional<LineMac> mac;    // absent when the line carries none
};
MacedLine split_line_mac(std::string_view line);
// In constant time; false when the line carries no MAC.
bool line_mac_ok(const MacedLine& line, const MacKey& key);

// KEYS <manager key ID> <nonce> <host key ID>:<sealed fleet key> ... (1..kMaxKeysEntries)
inline constexpr std::size_t kMaxKeysEntries = 10;
struct KeysRecipient {
  KeyId host;
  MacKey wrap;  // fleet_wrap_key(manager, host)
};
// The fleet key for every recipient, as few lines as fit (each one datagram).
std::vector<std::string> encode_keys_lines(KeyId manager, const MacKey& fleet,
                                           std::span<const KeysRecipient> recipients);
bool is_keys_line(std::string_view line);
// The fleet key sealed for `self` in a KEYS line of `manager`; nullopt when the line is
// malformed, of another manager, holds no entry for `self`, or the entry does not open.
std::optional<MacKey> open_keys_line(std::string_view line, KeyId manager, KeyId self,
                                     const MacKey& wrap);

}  // namespace fleetcast::protocol
