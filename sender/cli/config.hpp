#pragma once
// Command line and INI configuration of fleetcast-sender: parse -> validate -> plain struct.
// Boost.Program_options appears only in config.cpp. Errors throw ConfigError naming the option
// and the bad value. Every `send` option can also come from the --config INI file.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fec/codec.hpp"
#include "protocol/constants.hpp"
#include "protocol/log/log.hpp"
#include "sender/cli/bundle_command.hpp"
#include "sender/rollout/plan.hpp"

namespace fleetcast::sender {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command {
  help,
  version,
  keygen,
  fingerprint,
  inventory_add,
  inventory_redundancy,
  inventory_list,
  inventory_site,
  send,
  push,
  bundle_create,
  bundle_seal,
  bundle_inspect,
  bundle_verify,
  bundle_lint,
  rollout_plan,
  rollout_run,
  rollout_resume,
  rollout_pause,
  rollout_abort,
  rollout_list,
  rollout_status,
  rollout_start,
  serve,
  status,
  receipts_verify
};

struct SendOptions {
  std::filesystem::path file;
  std::filesystem::path inventory;
  std::filesystem::path key;
  std::string iface;
  std::vector<std::string> hosts;  // empty: every inventory host
  std::string name;                // announced name (default: the file's base name)
  std::string kind = "file";
  std::uint64_t bundle_version = 0;
  double rate_mbit = 0;  // the ceiling (fixed: the rate); 0 = none
  double rate_start_mbit = 100;
  double rate_floor_mbit = 1;
  bool fixed_rate = false;  // otherwise the rate adapts to the hosts' loss (sender/rate/)
  std::chrono::seconds deadline{600};
  std::chrono::milliseconds registration_timeout{3000};
  std::optional<std::filesystem::path> report;
  std::string ctrl_group{protocol::kDefaultCtrlGroup};
  std::string data_group{protocol::kDefaultDataGroup};
  std::uint16_t ctrl_port = protocol::kDefaultCtrlPort;
  std::uint16_t data_port = protocol::kDefaultDataPort;
  std::uint16_t reply_port = protocol::kDefaultReplyPort;
  int hop_limit = 16;
  std::uint32_t symbol_size = fec::kDefaultSymbolSize;
  std::uint32_t k = fec::kDefaultSourceSymbols;
  double proactive = 0.0;
  std::uint32_t auth_copies = 0;   // 0: adaptive
  std::uint32_t mixed_parts = 16;  // blocks per MIXED packet at most (1 = none)
  bool progress = true;            // live progress line when stdout is a TTY
  // push: FILE is a bundle; wait for every host's FIN after delivery.
  bool push = false;
  bool dry_run = false;  // hosts check only and report what would change
  bool force = false;    // send what the DHCP lint refuses (sender/lint/lint.hpp); rollouts: waves
                         // that break redundancy rules
  std::chrono::seconds fin_timeout{600};  // after delivery, for the FINs (apply time)
  // The manager's state directory: the receipt store (store.hpp). Empty: nothing is recorded.
  std::filesystem::path state;
};

// status / receipts verify: read the receipt store; status --refresh asks the hosts first.
struct StatusOptions {
  std::filesystem::path state;
  std::string bundle;  // "": every bundle
  std::string host;    // "": every host
  enum class Format { table, json, csv } format = Format::table;
  // --refresh: the key, interface and groups to ask with (file, inventory unused).
  std::optional<SendOptions> refresh;
  std::chrono::seconds refresh_timeout{5};
  std::int64_t rollout = 0;  // rollout status [ID]: 0 = the newest
};

struct Invocation {
  Command command = Command::help;
  std::string help_text;
  std::filesystem::path key_dir;   // keygen --out
  std::filesystem::path key_file;  // fingerprint FILE
  // inventory add
  std::filesystem::path inventory;
  std::string host_name;
  std::filesystem::path host_pub;
  std::vector<std::string> host_groups;
  // inventory redundancy: the group (name, service, members as HOST=ROLE)
  std::string redundancy_service;
  std::vector<std::string> redundancy_members;
  std::string site_fields;  // inventory site: the fields of its line (fleet/site.hpp)
  SendOptions send;
  RolloutOptions rollout;
  StatusOptions status;
  std::string http;  // serve --http ADDR:PORT ("": no web view)
  log::Config log;   // --log-level (default: info for serve, warning otherwise), --syslog
  std::vector<std::string> argv;  // as given (a rollout keeps it, so `rollout resume` can rerun)
  BundleOptions bundle;
};

Invocation parse_command_line(int argc, char** argv);

}  // namespace fleetcast::sender
