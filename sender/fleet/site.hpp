#pragma once
// A site: a school's LAN behind its own router, served by a relay (receiver/relay/) because the
// network between the center and the school carries no multicast. The manager sends the relay
// one copy of the session by unicast (protocol/relay/frame.hpp); the relay multicasts it on the
// school's LAN. Hosts of no site are on a LAN the manager's multicast reaches (its own, or one
// the network routes the groups to).
//
// Inventory line (fleet/inventory.hpp):
//   site <name> relay=<host> address=<IPv6>|[<IPv6>]:<port> [uplink=<Mbit/s>] [hosts=<host>,...]
// The relay is a host of the inventory and a member of its site (it receives and applies like
// the others; it may be its site's canary).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/text.hpp"

namespace fleetcast::sender {

struct Site {
  std::string name;
  std::string relay;            // the relay's host name
  protocol::text::Endpoint at;  // the relay's unicast address and relay port
  double uplink_mbit = 0;  // the school's uplink (the session's rate never exceeds it); 0: unstated
  std::vector<std::string> members;  // the hosts behind it, the relay first
};

// Parses the fields after "site" (name first); the error names the bad field.
std::optional<Site> parse_site(std::string_view fields, std::string* error);
std::string format_site(const Site& s);  // the fields parse_site reads back
// "school-a (relay s1r1 at [fd00:fc:1::101]:4713, uplink 50 Mbit/s)"
std::string describe(const Site& s);

}  // namespace fleetcast::sender
