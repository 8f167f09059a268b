#pragma once
// The manager's inventory of known hosts: name, Ed25519 public key, groups. Only hosts listed
// here are ever registered in a session; replies from any other key are ignored.
//
// File format, one entry per line (# starts a comment):
//   host <name> <64 hex public key> [<group>,<group>...]
//   window <group> <maintenance window>      e.g. window school-a Mon-Fri 22:00-05:00 Asia/Tokyo
//   redundancy <group> <service> <host>=<role> <host>=<role>...   e.g.
//                                            redundancy dhcp-a dhcpd r1=primary r2=secondary
//   site <name> relay=<host> address=<IPv6> [uplink=<Mbit/s>] [hosts=<host>,...]   (fleet/site.hpp)
// A group's window (fleet/window.hpp) bounds when a rollout may activate its hosts. A
// redundancy group (fleet/redundancy_group.hpp) has its members in separate waves
// (rollout/redundancy.hpp).

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/keys.hpp"
#include "sender/fleet/redundancy_group.hpp"
#include "sender/fleet/site.hpp"

namespace fleetcast::sender {

class InventoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Host {
  std::string name;
  protocol::PublicKey key;
  std::vector<std::string> groups;
};

class Inventory {
 public:
  static Inventory load(const std::filesystem::path& path);  // missing file = empty inventory
  void save(const std::filesystem::path& path) const;        // atomic: temp file, fsync, rename

  // Adds or replaces a host; refuses a key already used by another name.
  void add(Host host);
  const Host* find(std::string_view name) const;
  const Host* find(protocol::KeyId id) const;
  const std::vector<Host>& hosts() const { return hosts_; }
  // Sets a group's maintenance window (checked: a bad one throws InventoryError).
  void set_window(const std::string& group, const std::string& window);
  const std::map<std::string, std::string>& windows() const { return windows_; }
  // Adds or replaces a redundancy group; refuses (InventoryError, naming what is wrong) a group
  // that check_groups() rejects with the others: one member, a bad role, a host that is not
  // listed or already in a group of the same service.
  void set_redundancy(RedundancyGroup group);
  const std::vector<RedundancyGroup>& redundancy() const { return redundancy_; }
  // Adds or replaces a site; refuses (InventoryError) a relay or member that is not listed, or
  // a host already behind another site.
  void set_site(Site site);
  const std::vector<Site>& sites() const { return sites_; }
  const Site* site_of(std::string_view host) const;  // nullptr: on a multicast-reached LAN

 private:
  std::vector<Host> hosts_;
  std::map<std::string, std::string> windows_;  // group -> window text
  std::vector<RedundancyGroup> redundancy_;
  std::vector<Site> sites_;
};

}  // namespace fleetcast::sender
