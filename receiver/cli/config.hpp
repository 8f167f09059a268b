#pragma once
// Command line and INI configuration of fleetcast-receiver: parse -> validate -> plain struct.
// Boost.Program_options appears only in config.cpp. Errors throw ConfigError naming the option
// and the bad value. Every `run` option can also come from the --config INI file.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "protocol/constants.hpp"
#include "protocol/log/log.hpp"

namespace fleetcast::receiver {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command { help, version, keygen, fingerprint, run, apply, gc };

struct RunOptions {
  std::string name;
  std::string iface;
  std::filesystem::path key;
  std::filesystem::path manager_pub;
  std::filesystem::path spool;
  std::filesystem::path state;
  std::vector<std::string> groups;
  std::vector<std::string> kinds;  // empty: any kind
  std::uint64_t max_size = std::uint64_t{16} << 30;
  std::uint64_t max_clock_skew = protocol::kDefaultClockSkew;  // seconds (agent.hpp, freshness)
  std::string ctrl_group{protocol::kDefaultCtrlGroup};
  std::uint16_t ctrl_port = protocol::kDefaultCtrlPort;
  // The relay of this host's site (receiver/relay/relay.hpp): the port of the manager's frames
  // (0: not a relay), and the hop limit of what it multicasts on the LAN.
  std::uint16_t relay_port = 0;
  int relay_hop_limit = 1;
  double relay_lan_mbit = 200;  // the relay's repairs on its LAN (0: unpaced)
  // Apply: update scripts, policy for bundles, extraction limits, host facts for the scripts.
  std::filesystem::path scripts = FLEETCAST_SCRIPTS_DIR;
  std::vector<std::string> names;  // bundle names accepted; empty: any
  std::uint64_t max_unpacked = std::uint64_t{4} << 30;
  std::uint64_t max_files = 10'000;
  std::vector<std::pair<std::string, std::string>> host_facts;  // [host] key = value
  std::filesystem::path config_file;  // --config, if given (protected from file bundles)
  // File kinds may only write under these directories (empty: anywhere but the protected
  // paths: this receiver's key, config, scripts, state and spool).
  std::vector<std::filesystem::path> allow_targets;
  unsigned keep_applies = 20;  // retention (receiver/apply/retention.hpp)
  unsigned keep_backups = 3;
  unsigned keep_spool = 3;
  std::filesystem::path bundle;  // apply: the bundle file
  bool dry_run = false;          // apply: check only
  unsigned exit_after = 0;       // exit after this many acknowledged completions (0: run forever)
  // Test-only input drop model (Gilbert-Elliott), off by default: "ge:P_GB,P_BG,LOSS_BAD".
  double ge_good_to_bad = 0, ge_bad_to_good = 1, ge_loss_bad = 0;
};

struct Invocation {
  Command command = Command::help;
  std::string help_text;
  std::filesystem::path key_dir;
  std::string host_name;
  std::filesystem::path key_file;
  RunOptions run;
  log::Config log;  // --log-level, --syslog
};

Invocation parse_command_line(int argc, char** argv);

}  // namespace fleetcast::receiver
