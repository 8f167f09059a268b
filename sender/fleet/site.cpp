#include "sender/fleet/site.hpp"

#include <charconv>
#include <sstream>

#include "protocol/relay/frame.hpp"

namespace fleetcast::sender {
namespace text = protocol::text;

namespace {

// "fd00::1" or "[fd00::1]:4713"
std::optional<protocol::text::Endpoint> parse_relay_address(std::string_view v) {
  if (!v.empty() && v.front() == '[') {
    auto e = text::parse_endpoint(v, "address");
    if (!e || e.value().is_multicast()) return std::nullopt;
    return e.value();
  }
  auto e = text::parse_address(v, protocol::kDefaultRelayPort, "address");
  if (!e || e.value().is_multicast()) return std::nullopt;
  return e.value();
}

std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> out;
  std::istringstream in{std::string(list)};
  for (std::string name; std::getline(in, name, ',');) out.push_back(name);
  return out;
}

bool set_field(Site& s, std::string_view key, std::string_view value, std::string* error) {
  if (key == "relay" && text::is_host_name(value)) {
    s.relay = value;
  } else if (key == "address") {
    auto at = parse_relay_address(value);
    if (!at) return *error = "bad relay address '" + std::string(value) + "'", false;
    s.at = *at;
  } else if (key == "uplink") {
    const auto [end, ec] =
        std::from_chars(value.data(), value.data() + value.size(), s.uplink_mbit);
    if (ec != std::errc() || end != value.data() + value.size() || s.uplink_mbit <= 0) {
      return *error = "bad uplink '" + std::string(value) + "' (Mbit/s)", false;
    }
  } else if (key == "hosts") {
    s.members = split_names(value);
    for (const auto& m : s.members) {
      if (!text::is_host_name(m)) return *error = "bad host name '" + m + "'", false;
    }
  } else {
    return *error = "unknown field '" + std::string(key) + "=" + std::string(value) + "'", false;
  }
  return true;
}

}  // namespace

std::optional<Site> parse_site(std::string_view fields, std::string* error) {
  std::istringstream in{std::string(fields)};
  Site s;
  in >> s.name;
  if (!text::is_group_name(s.name)) return *error = "bad site name '" + s.name + "'", std::nullopt;
  for (std::string field; in >> field;) {
    const auto eq = field.find('=');
    if (eq == std::string::npos)
      return *error = "expected key=value, got '" + field + "'", std::nullopt;
    if (!set_field(s, std::string_view(field).substr(0, eq), std::string_view(field).substr(eq + 1),
                   error)) {
      return std::nullopt;
    }
  }
  if (s.relay.empty() || s.at.port == 0) {
    return *error = "site " + s.name + ": relay=<host> and address=<IPv6> are needed", std::nullopt;
  }
  std::erase(s.members, s.relay);
  s.members.insert(s.members.begin(), s.relay);
  return s;
}

std::string format_site(const Site& s) {
  std::string out = s.name + " relay=" + s.relay + " address=" + text::format_endpoint(s.at);
  if (s.uplink_mbit > 0) {
    std::ostringstream rate;
    rate << s.uplink_mbit;
    out += " uplink=" + rate.str();
  }
  out += " hosts=";
  for (std::size_t i = 0; i < s.members.size(); ++i) out += (i == 0 ? "" : ",") + s.members[i];
  return out;
}

std::string describe(const Site& s) {
  std::ostringstream out;
  out << s.name << " (relay " << s.relay << " at " << text::format_endpoint(s.at);
  if (s.uplink_mbit > 0) out << ", uplink " << s.uplink_mbit << " Mbit/s";
  out << ")";
  return out.str();
}

}  // namespace fleetcast::sender
