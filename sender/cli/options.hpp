#pragma once
// The manager's option tables (Boost.Program_options) and the checks that turn parsed values into
// the typed option structs of config.hpp; config.cpp dispatches the commands over them.

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "sender/cli/config.hpp"

namespace fleetcast::sender {

extern const char* const kUsage;

boost::program_options::options_description general_options();
boost::program_options::options_description send_options();
boost::program_options::options_description rollout_options();

// ConfigError naming `option` and `command` when the option is missing.
void require(const boost::program_options::variables_map& vm, const char* option,
             const char* command);
RolloutOptions validate_rollout(const boost::program_options::variables_map& vm);
// The network options alone (status --refresh).
SendOptions validate_network(const boost::program_options::variables_map& vm, const char* command);
SendOptions validate_send(const boost::program_options::variables_map& vm,
                          const std::vector<std::string>& args);
BundleOptions validate_bundle(const boost::program_options::variables_map& vm,
                              const std::vector<std::string>& args);

}  // namespace fleetcast::sender
