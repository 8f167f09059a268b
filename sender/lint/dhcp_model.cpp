#include "sender/lint/dhcp_model.hpp"

#include <charconv>

namespace fleetcast::sender::lint {

std::string format_ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

bool parse_ipv4(std::string_view text, std::uint32_t& out) {
  std::uint32_t value = 0;
  int parts = 0;
  while (parts < 4) {
    unsigned octet = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), octet);
    if (ec != std::errc() || end == text.data() || octet > 255) return false;
    value = value << 8 | octet;
    ++parts;
    text.remove_prefix(static_cast<std::size_t>(end - text.data()));
    if (parts < 4) {
      if (text.empty() || text.front() != '.') return false;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return false;
  out = value;
  return true;
}

std::string format_range(const Range& r) {
  return format_ipv4(r.low) + "-" + format_ipv4(r.high);
}

}  // namespace fleetcast::sender::lint
