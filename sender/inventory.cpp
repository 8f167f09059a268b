#include "sender/inventory.hpp"

#include <fstream>
#include <sstream>

#include "protocol/io/file.hpp"
#include "protocol/signature.hpp"
#include "protocol/text.hpp"
#include "sender/rollout/window.hpp"

namespace fleetcast::sender {
namespace text = protocol::text;
namespace io = protocol::io;

Inventory Inventory::load(const std::filesystem::path& path) {
  Inventory inv;
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return inv;
    throw InventoryError(path.string() + ": cannot read");
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const auto where = path.string() + ":" + std::to_string(number) + ": ";
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string tag, name, key_hex, groups, extra;
    fields >> tag >> name;
    if (tag == "window") {
      std::string rest;
      std::getline(fields, rest);
      rest.erase(0, rest.find_first_not_of(" \t"));
      rest.erase(rest.find_last_not_of(" \t\r") + 1);
      try {
        inv.set_window(name, rest);
      } catch (const InventoryError& e) {
        throw InventoryError(where + e.what());
      }
      continue;
    }
    fields >> key_hex >> groups >> extra;
    if (tag != "host" || name.empty() || key_hex.empty() || !extra.empty()) {
      throw InventoryError(where +
                           "expected 'host <name> <public key hex> [groups]' or 'window <group> "
                           "<window>'");
    }
    Host h;
    h.name = name;
    if (!text::is_host_name(name)) throw InventoryError(where + "bad host name '" + name + "'");
    if (!text::unhex(key_hex, h.key.bytes)) throw InventoryError(where + "bad public key");
    std::istringstream g(groups);
    for (std::string group; std::getline(g, group, ',');) {
      if (!text::is_group_name(group)) throw InventoryError(where + "bad group '" + group + "'");
      h.groups.push_back(group);
    }
    try {
      inv.add(std::move(h));
    } catch (const InventoryError& e) {
      throw InventoryError(where + e.what());
    }
  }
  return inv;
}

void Inventory::save(const std::filesystem::path& path) const {
  std::string out =
      "# fleetcast inventory: host <name> <public key> [groups] | window <group> <window>\n";
  for (const auto& [group, window] : windows_) out += "window " + group + " " + window + "\n";
  for (const Host& h : hosts_) {
    out += "host " + h.name + " " + text::hex(h.key.bytes);
    for (std::size_t i = 0; i < h.groups.size(); ++i) out += (i == 0 ? " " : ",") + h.groups[i];
    out += "\n";
  }
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
