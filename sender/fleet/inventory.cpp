#include "sender/fleet/inventory.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "protocol/io/file.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"
#include "sender/fleet/window.hpp"

namespace fleetcast::sender {
namespace text = protocol::text;
namespace io = protocol::io;

namespace {

// The rest of the line after the fields read so far, without surrounding blanks.
std::string rest_of(std::istringstream& fields) {
  std::string rest;
  std::getline(fields, rest);
  rest.erase(0, rest.find_first_not_of(" \t"));
  rest.erase(rest.find_last_not_of(" \t\r") + 1);
  return rest;
}

RedundancyGroup read_redundancy(const std::string& name, std::istringstream& fields) {
  RedundancyGroup g;
  g.name = name;
  std::string service, member;
  fields >> service;
  const auto s = service_from(service);
  if (!s) throw InventoryError("unknown service '" + service + "' (dhcpd, kea, carp, vrrp)");
  g.service = *s;
  while (fields >> member) {
    const auto eq = member.find('=');
    if (eq == std::string::npos) {
      throw InventoryError("expected <host>=<role>, got '" + member + "'");
    }
    g.members.push_back({member.substr(0, eq), member.substr(eq + 1)});
  }
  return g;
}

Host read_host(const std::string& tag, const std::string& name, std::istringstream& fields) {
  std::string key_hex, groups, extra;
  fields >> key_hex >> groups >> extra;
  if (tag != "host" || name.empty() || key_hex.empty() || !extra.empty()) {
    throw InventoryError(
        "expected 'host <name> <public key hex> [groups]', 'window <group> <window>', "
        "'redundancy <group> <service> <host>=<role>...' or 'site <name> relay=... address=...'");
  }
  Host h;
  h.name = name;
  if (!text::is_host_name(name)) throw InventoryError("bad host name '" + name + "'");
  if (!text::unhex(key_hex, h.key.bytes)) throw InventoryError("bad public key");
  std::istringstream g(groups);
  for (std::string group; std::getline(g, group, ',');) {
    if (!text::is_group_name(group)) throw InventoryError("bad group '" + group + "'");
    h.groups.push_back(group);
  }
  return h;
}

}  // namespace

Inventory Inventory::load(const std::filesystem::path& path) {
  Inventory inv;
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return inv;
    throw InventoryError(path.string() + ": cannot read");
  }
  // Redundancy groups and sites are checked once every host is known.
  std::vector<std::pair<std::string, RedundancyGroup>> groups;
  std::vector<std::pair<std::string, Site>> sites;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto where = path.string() + ":" + std::to_string(number) + ": ";
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string tag, name, error;
    fields >> tag >> name;
    try {
      if (tag == "window") {
        inv.set_window(name, rest_of(fields));
      } else if (tag == "site") {
        auto site = parse_site(name + " " + rest_of(fields), &error);
        if (!site) throw InventoryError(error);
        sites.push_back({where, std::move(*site)});
      } else if (tag == "redundancy") {
        groups.push_back({where, read_redundancy(name, fields)});
      } else {
        inv.add(read_host(tag, name, fields));
      }
    } catch (const InventoryError& e) {
      throw InventoryError(where + e.what());
    }
  }
  const auto in_order = [](auto& list, const auto& set) {
    for (auto& [where, item] : list) {
      try {
        set(std::move(item));
      } catch (const InventoryError& e) {
        throw InventoryError(where + e.what());
      }
    }
  };
  in_order(groups, [&](RedundancyGroup g) { inv.set_redundancy(std::move(g)); });
  in_order(sites, [&](Site site) { inv.set_site(std::move(site)); });
  return inv;
}

void Inventory::save(const std::filesystem::path& path) const {
  std::string out =
      "# fleetcast inventory: host <name> <public key> [groups] | window <group> <window> |\n"
      "# redundancy <group> <service> <host>=<role>... |\n"
      "# site <name> relay=<host> address=<IPv6> [uplink=<Mbit/s>] [hosts=<host>,...]\n";
  for (const auto& [group, window] : windows_) out += "window " + group + " " + window + "\n";
  for (const Host& h : hosts_) {
    out += "host " + h.name + " " + text::hex(h.key.bytes);
    for (std::size_t i = 0; i < h.groups.size(); ++i) out += (i == 0 ? " " : ",") + h.groups[i];
    out += "\n";
  }
  for (const RedundancyGroup& g : redundancy_) {
    out += "redundancy " + g.name + " " + std::string(to_string(g.service));
    for (const Member& m : g.members) out += " " + m.host + "=" + m.role;
    out += "\n";
  }
  for (const Site& site : sites_) out += "site " + format_site(site) + "\n";
  try {
    io::write_file_atomic(path, protocol::as_bytes(out), 0644);
  } catch (const std::runtime_error& e) {
    throw InventoryError(e.what());
  }
}

void Inventory::add(Host host) {
  for (Host& h : hosts_) {
    if (h.name != host.name && h.key == host.key) {
      throw InventoryError("key already belongs to host '" + h.name + "'");
    }
  }
  for (Host& h : hosts_) {
    if (h.name == host.name) {
      h = std::move(host);
      return;
    }
  }
  hosts_.push_back(std::move(host));
}

void Inventory::set_window(const std::string& group, const std::string& window) {
  if (!text::is_group_name(group)) throw InventoryError("bad group '" + group + "'");
  std::string error;
  if (!Window::parse(window, &error)) {
    throw InventoryError("window of group " + group + ": '" + window + "': " + error);
  }
  windows_[group] = window;
}

void Inventory::set_redundancy(RedundancyGroup group) {
  if (!text::is_group_name(group.name)) throw InventoryError("bad group '" + group.name + "'");
  std::vector<RedundancyGroup> groups = redundancy_;
  std::erase_if(groups, [&](const RedundancyGroup& g) { return g.name == group.name; });
  groups.push_back(std::move(group));
  std::vector<std::string> names;
  for (const Host& h : hosts_) names.push_back(h.name);
  if (auto problem = check_groups(groups, names); !problem.empty()) throw InventoryError(problem);
  redundancy_ = std::move(groups);
}

void Inventory::set_site(Site site) {
  for (const auto& m : site.members) {
    if (find(m) == nullptr) throw InventoryError("site " + site.name + ": no host '" + m + "'");
    const Site* other = site_of(m);
    if (other != nullptr && other->name != site.name) {
      throw InventoryError("site " + site.name + ": " + m + " is behind site " + other->name);
    }
  }
  for (Site& s : sites_) {
    if (s.name == site.name) {
      s = std::move(site);
      return;
    }
  }
  sites_.push_back(std::move(site));
}

const Site* Inventory::site_of(std::string_view host) const {
  for (const Site& s : sites_) {
    if (std::find(s.members.begin(), s.members.end(), host) != s.members.end()) return &s;
  }
  return nullptr;
}

const Host* Inventory::find(std::string_view name) const {
  for (const Host& h : hosts_) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

const Host* Inventory::find(protocol::KeyId id) const {
  for (const Host& h : hosts_) {
    if (protocol::key_id(h.key) == id) return &h;
  }
  return nullptr;
}

}  // namespace fleetcast::sender
