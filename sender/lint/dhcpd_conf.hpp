#pragma once
// A parser for the part of dhcpd.conf(5) the DHCP lint needs: the statement structure (words,
// quoted strings, `;`-terminated statements and `{ }` blocks, `#` comments), and from it the
// ranges of every subnet (also inside shared-network, group and pool blocks, with the pool's
// `failover peer` and `deny all clients`) and every `failover peer "NAME" { ... }` declaration.
// Everything else is parsed for structure and ignored. Malformed text (an unclosed block or
// string, a statement without its `;`) throws DhcpdConfError with the line.

#include <stdexcept>
#include <string_view>

#include "sender/lint/dhcp_model.hpp"

namespace fleetcast::sender::lint {

class DhcpdConfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ServerModel parse_dhcpd_conf(std::string_view text);

}  // namespace fleetcast::sender::lint
