#pragma once
// The Kea DHCPv4 configuration as the DHCP lint needs it (dhcp_model.hpp): every pool of every
// subnet (also in shared networks), and the HA hook's this-server-name. Read with nlohmann-json
// after Kea's comments (`//`, `/* */`, `#`) are removed outside strings; a document that is no
// JSON, or pools that are no address ranges, throw KeaConfError.

#include <stdexcept>
#include <string_view>

#include "sender/lint/dhcp_model.hpp"

namespace fleetcast::sender::lint {

class KeaConfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

ServerModel parse_kea_conf(std::string_view text);

}  // namespace fleetcast::sender::lint
