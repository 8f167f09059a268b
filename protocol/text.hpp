#pragma once
// Text field codecs of ctrl commands and key files. Every decoder accepts exactly the canonical
// form its encoder writes, so  encode(decode(x)) == x  for every accepted x: one spelling per
// value, which keeps captures unambiguous and lets the fuzzers check round trips.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"

namespace fleetcast::protocol::text {

// Lowercase hex.
std::string hex(std::span<const std::uint8_t> bytes);
// Exactly 2 * out.size() lowercase hex digits, else false (out zero-filled).
bool unhex(std::string_view in, std::span<std::uint8_t> out);
std::string hex64(std::uint64_t v);                   // 16 digits
bool unhex64(std::string_view in, std::uint64_t& v);  // exactly 16 digits

// Canonical decimal: digits only, no sign, no leading zero except "0" itself, value <= max.
Result<std::uint64_t> parse_decimal(std::string_view in, std::uint64_t min, std::uint64_t max,
                                    std::string_view where);

// Percent-escaping (RFC 3986 style, uppercase hex). Bytes 0x21..0x7e other than '%', ',' and '='
// stand for themselves; every other byte is written %XX. The empty string is written "-", and a
// lone "-" is written "%2D" (the only place an escape of a printable character is canonical).
std::string escape(std::string_view raw);
Result<std::string> unescape(std::string_view in, std::size_t max_bytes, std::string_view where);

// Splits "a,b,c" on `separator`, keeping empty items (so "a,,b" and "a," show their empty entry
// to the caller's validation instead of hiding it).
std::vector<std::string> split(std::string_view in, char separator);

// Field alphabets, checked on decoded values.
bool is_file_name(std::string_view s);   // 1..255 bytes, no '/', no NUL, not "." or ".."
bool is_host_name(std::string_view s);   // 1..253 of [A-Za-z0-9.-], no leading '.', '-'
bool is_token(std::string_view s);       // 1..32 of [a-z0-9-]
bool is_group_name(std::string_view s);  // 1..64 of [A-Za-z0-9._-]

// IPv6 address and port: "[ff15::f1ee:2]:4711". Canonical: RFC 5952 text (as inet_ntop writes).
struct Endpoint {
  std::array<std::uint8_t, 16> address{};
  std::uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
  bool is_multicast() const { return address[0] == 0xff; }
};
std::string format_endpoint(const Endpoint& e);
Result<Endpoint> parse_endpoint(std::string_view in, std::string_view where);
Result<Endpoint> parse_address(std::string_view in, std::uint16_t port, std::string_view where);

}  // namespace fleetcast::protocol::text
