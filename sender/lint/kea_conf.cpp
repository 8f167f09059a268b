#include "sender/lint/kea_conf.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <string>

namespace fleetcast::sender::lint {
namespace {

// `#` comments removed outside strings (nlohmann-json ignores `//` and `/* */` itself).
std::string without_hash_comments(std::string_view text) {
  std::string out;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

std::string trimmed(std::string s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t') out += c;
  }
  return out;
}

Range pool_range(const std::string& pool, const std::string& subnet) {
  const std::string p = trimmed(pool);
  Range r;
  r.subnet = subnet;
  if (const auto dash = p.find('-'); dash != std::string::npos) {
    if (!parse_ipv4(p.substr(0, dash), r.low) || !parse_ipv4(p.substr(dash + 1), r.high) ||
        r.high < r.low) {
      throw KeaConfError("pool '" + pool + "' is not an address range");
    }
    return r;
  }
  const auto slash = p.find('/');
  std::uint32_t base = 0;
  if (slash == std::string::npos || !parse_ipv4(p.substr(0, slash), base)) {
    throw KeaConfError("pool '" + pool + "' is not an address range");
  }
  const std::string digits = p.substr(slash + 1);
  int len = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
  if (ec != std::errc() || end != digits.data() + digits.size() || len < 0 || len > 32) {
    throw KeaConfError("pool '" + pool + "': bad prefix length");
  }
  const std::uint64_t size = std::uint64_t{1} << (32 - len);
  r.low = static_cast<std::uint32_t>(base - base % size);
  r.high = static_cast<std::uint32_t>(r.low + size - 1);
  return r;
}

void read_subnets(const nlohmann::json& list, ServerModel& m) {
  if (!list.is_array()) return;
  for (const auto& s : list) {
    const std::string subnet = s.value("subnet", "");
    if (!s.contains("pools") || !s["pools"].is_array()) continue;
    for (const auto& p : s["pools"]) {
      if (p.contains("pool") && p["pool"].is_string()) {
        m.ranges.push_back(pool_range(p["pool"].get<std::string>(), subnet));
      }
    }
  }
}

}  // namespace

ServerModel parse_kea_conf(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(without_hash_comments(text), nullptr, true, true);
  } catch (const nlohmann::json::exception& e) {
    throw KeaConfError(std::string("not a JSON document: ") + e.what());
  }
  if (!doc.is_object() || !doc.contains("Dhcp4") || !doc["Dhcp4"].is_object()) {
    throw KeaConfError("no Dhcp4 object");
  }
  const auto& d = doc["Dhcp4"];
  ServerModel m;
  try {
    if (d.contains("subnet4")) read_subnets(d["subnet4"], m);
    if (d.contains("shared-networks") && d["shared-networks"].is_array()) {
      for (const auto& n : d["shared-networks"]) {
        if (n.contains("subnet4")) read_subnets(n["subnet4"], m);
      }
    }
    if (d.contains("hooks-libraries") && d["hooks-libraries"].is_array()) {
      for (const auto& h : d["hooks-libraries"]) {
        if (h.value("library", "").find("libdhcp_ha") == std::string::npos) continue;
        const auto& ha = h.at("parameters").at("high-availability").at(0);
        m.ha_this = ha.value("this-server-name", "");
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw KeaConfError(std::string("unexpected structure: ") + e.what());
  }
  return m;
}

}  // namespace fleetcast::sender::lint
