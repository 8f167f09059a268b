#pragma once
// What the DHCP lint (lint.hpp) needs of a server's configuration, whichever server wrote it:
// the address ranges it lends, per subnet, and its redundancy declarations. Built by the
// dhcpd.conf parser (dhcpd_conf.hpp) and the Kea JSON reader (kea_conf.hpp).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleetcast::sender::lint {

struct Range {
  std::uint32_t low = 0, high = 0;  // IPv4, host order, inclusive
  std::string subnet;               // "192.168.0.0/16"
  std::string failover_peer;        // dhcpd: the pool's `failover peer "NAME"` ("" if none)
  bool retired = false;             // dhcpd: `deny all clients` (lends nothing new, holds leases)
  int line = 0;                     // where it is declared (dhcpd), 0 when unknown
};

struct FailoverPeer {  // dhcpd `failover peer "NAME" { ... }`
  std::string name;
  std::string role;  // "primary", "secondary" or "" when missing
  bool mclt = false, split = false, hba = false;
  int line = 0;
};

struct ServerModel {
  std::vector<Range> ranges;
  std::vector<FailoverPeer> peers;
  std::string ha_this;             // Kea HA: this-server-name ("" without HA)
  std::vector<std::string> notes;  // what the lint cannot see (an include it cannot follow)
};

std::string format_ipv4(std::uint32_t a);
bool parse_ipv4(std::string_view text, std::uint32_t& out);
std::string format_range(const Range& r);  // "192.168.100.1-192.168.101.254"

}  // namespace fleetcast::sender::lint
