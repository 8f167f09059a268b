#include "protocol/text.hpp"

#include <arpa/inet.h>  // inet_pton / inet_ntop: pure conversions, no I/O

#include <charconv>

namespace fleetcast::protocol::text {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

int hex_value(char c, bool upper) {
  if (c >= '0' && c <= '9') return c - '0';
  if (!upper && c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (upper && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_raw(unsigned char c) {
  return c >= 0x21 && c <= 0x7e && c != '%' && c != ',' && c != '=';
}
bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += kHexLower[b >> 4];
    out += kHexLower[b & 15];
  }
  return out;
}

bool unhex(std::string_view in, std::span<std::uint8_t> out) {
  bool good = in.size() == out.size() * 2;
  for (std::size_t i = 0; good && i < out.size(); ++i) {
    const int hi = hex_value(in[2 * i], false);
    const int lo = hex_value(in[2 * i + 1], false);
    good = hi >= 0 && lo >= 0;
    out[i] = good ? static_cast<std::uint8_t>(hi << 4 | lo) : 0;
  }
  if (!good) std::fill(out.begin(), out.end(), 0);
  return good;
}

std::string hex64(std::uint64_t v) {
  std::array<std::uint8_t, 8> b{};
  for (std::size_t i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return hex(b);
}

bool unhex64(std::string_view in, std::uint64_t& v) {
  std::array<std::uint8_t, 8> b{};
  if (!unhex(in, b)) return false;
  v = 0;
  for (std::uint8_t x : b) v = v << 8 | x;
  return true;
}

Result<std::uint64_t> parse_decimal(std::string_view in, std::uint64_t min, std::uint64_t max,
                                    std::string_view where) {
  if (in.empty() || in.size() > 20 || (in.size() > 1 && in[0] == '0')) {
    return Failure{Error::bad_number, where};
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), v);
  if (ec == std::errc::result_out_of_range) return Failure{Error::out_of_range, where};
  if (ec != std::errc() || end != in.data() + in.size()) return Failure{Error::bad_number, where};
  if (v < min || v > max) return Failure{Error::out_of_range, where};
  return v;
}

std::string escape(std::string_view raw) {
  if (raw.empty()) return "-";
  if (raw == "-") return "%2D";
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_raw(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 15];
    }
  }
  return out;
}

Result<std::string> unescape(std::string_view in, std::size_t max_bytes, std::string_view where) {
  if (in == "-") return std::string();
  if (in == "%2D") return std::string("-");
  if (in.empty()) return Failure{Error::field_count, where};
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '%') {
      if (in.size() - i < 3) return Failure{Error::bad_escape, where};
      const int hi = hex_value(in[i + 1], true);
      const int lo = hex_value(in[i + 2], true);
      if (hi < 0 || lo < 0) return Failure{Error::bad_escape, where};
      const auto decoded = static_cast<unsigned char>(hi << 4 | lo);
      if (is_raw(decoded)) return Failure{Error::bad_escape, where};  // not canonical
      out += static_cast<char>(decoded);
      i += 2;
    } else if (is_raw(c)) {
      out += static_cast<char>(c);
    } else {
      return Failure{Error::bad_character, where};
    }
    if (out.size() > max_bytes) return Failure{Error::too_long, where};
  }
  return out;
}

std::vector<std::string> split(std::string_view in, char separator) {
  std::vector<std::string> out;
  while (true) {
    const std::size_t at = in.find(separator);
    out.emplace_back(in.substr(0, at));
    if (at == std::string_view::npos) return out;
    in.remove_prefix(at + 1);
  }
}

bool is_file_name(std::string_view s) {
  if (s.empty() || s.size() > 255 || s == "." || s == "..") return false;
  for (char c : s) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

bool is_host_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.front() == '-') return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool is_group_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::string format_endpoint(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, e.address.data(), buf, sizeof buf);
  std::string out = "[";
  out.append(buf).append("]:").append(std::to_string(e.port));
  return out;
}

Result<Endpoint> parse_address(std::string_view in, std::uint16_t port, std::string_view where) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (in.empty() || in.size() >= sizeof buf) return Failure{Error::bad_character, where};
  std::copy(in.begin(), in.end(), buf);
  Endpoint e;
  e.port = port;
  if (inet_pton(AF_INET6, buf, e.address.data()) != 1) {
    return Failure{Error::bad_character, where};
  }
  char canonical[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, e.address.data(), canonical, sizeof canonical);
  if (in != canonical) return Failure{Error::inconsistent, where};  // not RFC 5952 form
  return e;
}

Result<Endpoint> parse_endpoint(std::string_view in, std::string_view where) {
  const std::size_t close = in.rfind("]:");
  if (in.size() < 4 || in[0] != '[' || close == std::string_view::npos) {
    return Failure{Error::bad_character, where};
  }
  auto port = parse_decimal(in.substr(close + 2), 1, 65535, where);
  if (!port) return port.failure();
  return parse_address(in.substr(1, close - 1), static_cast<std::uint16_t>(port.value()), where);
}

}  // namespace fleetcast::protocol::text
