#pragma once
// Wire constants of the fleetcast protocol. protocol/README.md documents every one of them.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fleetcast::protocol {

// Version of the binary data-session header (first nibble). 1: the first fleetcast format, the
// paper's 12-byte header with FEC info = SBN(24) | ESI(8) and signed feedback trailers.
inline constexpr std::uint8_t kWireVersion = 1;
// Version tag of ctrl commands, inside the signature domain (a v2 line can never verify as v1).
inline constexpr std::string_view kCtrlSignDomain = "fleetcast ctrl v1\n";
inline constexpr std::string_view kDataSignDomain = "fleetcast data v1\n";

// Every ctrl command and feedback packet fits one unfragmented datagram on any IPv6 link:
// 1280 minimum MTU - 40 IPv6 header - 8 UDP header.
inline constexpr std::size_t kMaxControlDatagram = 1280 - 40 - 8;  // 1232

inline constexpr std::size_t kHeaderBytes = 12;  // paper, figure 7
inline constexpr std::uint8_t kHeaderWords = kHeaderBytes / 4;
// Symbols: 16 bytes at least (smaller wastes the header), at most what a 9000-byte jumbo frame
// carries: 9000 - 40 - 8 - 12 = 8940, rounded down to 8192.
inline constexpr std::uint32_t kMinSymbolSize = 16;
inline constexpr std::uint32_t kMaxSymbolSize = 8192;
// The largest data datagram: a MIXED packet of 16 parts (a 1-byte count and 15 x 4-byte part
// IDs after the header) carrying the largest symbol.
inline constexpr std::size_t kMaxDataDatagram = kHeaderBytes + 1 + 15 * 4 + kMaxSymbolSize;

inline constexpr std::size_t kDigestBytes = 32;     // BLAKE2b-256
inline constexpr std::size_t kPublicKeyBytes = 32;  // Ed25519
inline constexpr std::size_t kSeedBytes = 32;       // Ed25519 secret seed
inline constexpr std::size_t kSignatureBytes = 64;  // Ed25519
inline constexpr std::size_t kKeyIdBytes = 8;       // BLAKE2b-256 of the public key, truncated
inline constexpr std::size_t kSessionIdBytes = 8;   // random per announcement

// Field limits of ctrl commands (decoded lengths).
inline constexpr std::size_t kMaxNameBytes = 255;  // bundle / file name (a file-system name)
inline constexpr std::size_t kMaxHostBytes = 253;  // DNS host name (RFC 1035)
inline constexpr std::size_t kMaxTextBytes = 512;  // free-text message (FIN, DENY, ABORT)
inline constexpr std::size_t kMaxTokenBytes = 32;  // kind, status and other keywords
inline constexpr std::size_t kMaxTargets = 64;     // entries of a targets= list

// Default transport: organization-local scope (ff18::/16) would leave the site; the default
// stays in site-local scope ff15::/16, as the delivery issue asks.
inline constexpr std::string_view kDefaultCtrlGroup = "ff15::f1ee:1";
inline constexpr std::string_view kDefaultDataGroup = "ff15::f1ee:2";
inline constexpr std::uint16_t kDefaultCtrlPort = 4710;
inline constexpr std::uint16_t kDefaultDataPort = 4711;
inline constexpr std::uint16_t kDefaultReplyPort = 4712;
// The skew between a manager's and a host's clock that NTP keeps far inside: a manager command
// whose time lies further from the host's clock is stale (receiver/reception/agent.hpp, freshness).
inline constexpr std::uint64_t kDefaultClockSkew = 300;  // seconds

}  // namespace fleetcast::protocol
