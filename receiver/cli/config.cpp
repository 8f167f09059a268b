#include "receiver/cli/config.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "protocol/text.hpp"

namespace po = boost::program_options;

namespace fleetcast::receiver {
namespace {

constexpr const char* kUsage =
    "fleetcast-receiver: the fleetcast host agent. Receives signed files and update bundles over\n"
    "IPv6 multicast, verifies them, stores them in its spool and reports to the manager.\n"
    "\n"
    "Usage:\n"
    "  fleetcast-receiver keygen --out DIR [--name HOST]\n"
    "      create DIR/host.key (0600) and DIR/host.pub; give host.pub to the manager\n"
    "  fleetcast-receiver fingerprint FILE\n"
    "      print the key ID and fingerprint of a key file\n"
    "  fleetcast-receiver run --name NAME --iface IF --key host.key --manager-pub manager.pub\n"
    "                         --spool DIR --state DIR [--config FILE] [options]\n"
    "      receive announcements from the manager until stopped (SIGTERM/SIGINT)\n"
    "  fleetcast-receiver apply BUNDLE.fcb --name NAME --manager-pub manager.pub --state DIR\n"
    "                           [--dry-run] [--config FILE] [options]\n"
    "      apply a bundle file here, through the same pipeline as a pushed one; exit 0 when\n"
    "      applied (or checked, with --dry-run)\n"
    "  fleetcast-receiver gc --state DIR [--spool DIR] [--config FILE] [--keep-* N]\n"
    "      remove what finished applies left behind beyond the retention limits (also done\n"
    "      after every apply); never what an unfinished apply may need for its rollback\n"
    "  fleetcast-receiver --help | --version\n";

// The installed scripts (<prefix>/share/fleetcast/update-scripts beside <prefix>/bin), else
// those of the source tree this binary was built from.
std::string default_scripts_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share/fleetcast/update-scripts";
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return FLEETCAST_SCRIPTS_DIR;
}

po::options_description run_options() {
  const RunOptions d;  // the defaults: one table, RunOptions' own initializers
  po::options_description o("run options (also valid in the --config INI file)");
  o.add_options()("name", po::value<std::string>(),
                  "this host's name (as in the manager's inventory)")(
      "iface", po::value<std::string>(), "network interface to receive on")(
      "key", po::value<std::string>(), "this host's secret key (host.key)")(
      "manager-pub", po::value<std::string>(), "the manager's public key (manager.pub)")(
      "spool", po::value<std::string>(), "directory for received files")(
      "state", po::value<std::string>(), "directory for reception state (resume)")(
      "group", po::value<std::vector<std::string>>(), "a group this host belongs to")(
      "kinds", po::value<std::string>(), "comma-separated kinds accepted (default: any)")(
      "max-size", po::value<std::uint64_t>(), "refuse announcements larger than BYTES")(
      "max-clock-skew", po::value<std::uint64_t>()->default_value(d.max_clock_skew),
      "seconds a manager command's time may differ from this host's clock; older or newer "
      "commands are ignored as replays (and an UPDATE is answered with a DENY saying so)")(
      "ctrl-group", po::value<std::string>()->default_value(d.ctrl_group), "ctrl group")(
      "ctrl-port", po::value<std::uint16_t>()->default_value(d.ctrl_port), "ctrl port")(
      "relay-port", po::value<std::uint16_t>()->default_value(d.relay_port),
      "be the relay of this host's site: take the manager's relay frames on this UDP port (the "
      "inventory's site address names it; 4713 by default there) and multicast them on this "
      "LAN (0: not a relay)")("relay-hop-limit", po::value<int>()->default_value(d.relay_hop_limit),
                              "hop limit of what the relay multicasts on its LAN (1-255)")(
      "relay-lan-rate", po::value<double>()->default_value(d.relay_lan_mbit),
      "Mbit/s of the relay's repairs on its LAN (0: unpaced)")(
      "scripts", po::value<std::string>()->default_value(default_scripts_dir()),
      "directory of the update scripts (one per bundle kind)")(
      "accept-names", po::value<std::string>(),
      "comma-separated bundle names accepted (default: any)")(
      "max-unpacked", po::value<std::uint64_t>()->default_value(d.max_unpacked),
      "refuse bundles that unpack to more than BYTES")(
      "max-files", po::value<std::uint64_t>()->default_value(d.max_files),
      "refuse bundles with more than N entries")(
      "host-fact", po::value<std::vector<std::string>>(),
      "KEY=VALUE for the update scripts (as FLEETCAST_HOST_KEY); in the INI file: [host] KEY = "
      "VALUE")("exit-after", po::value<unsigned>()->default_value(d.exit_after),
               "exit after N acknowledged completions (0: run until stopped)")(
      "allow-targets", po::value<std::string>(),
      "comma-separated directories that config-files, backup and restore bundles may name as "
      "targets (default: any but this receiver's own key, config, scripts, state and spool)")(
      "keep-applies", po::value<unsigned>()->default_value(d.keep_applies),
      "finished apply directories kept (their logs; bundle copies go at once)")(
      "keep-backups", po::value<unsigned>()->default_value(d.keep_backups),
      "backup versions kept per bundle name")(
      "keep-spool", po::value<unsigned>()->default_value(d.keep_spool),
      "applied bundles kept in the spool (a re-push of one is not received again)")(
      "log-level", po::value<std::string>()->default_value("info"),
      "the least important events logged: debug, info, notice, warning or error")(
      "syslog", po::bool_switch(),
      "also send every event to syslog (facility daemon); in the INI file: syslog = true")(
      "test-drop-model", po::value<std::string>(),
      "TEST ONLY: drop data packets on input, Gilbert-Elliott 'ge:P_GB,P_BG,LOSS_BAD'");
  return o;
}

bool fact_key(std::string_view k) {
  return !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

using Facts = std::vector<std::pair<std::string, std::string>>;
void add_fact(Facts& facts, const std::string& key, const std::string& value) {
  if (!fact_key(key)) throw ConfigError("[host] " + key + ": keys are [a-z0-9_-], 1-64");
  if (value.find_first_of(std::string("\0\n", 2)) != std::string::npos) {
    throw ConfigError("[host] " + key + ": value contains a newline or NUL");
  }
  facts.emplace_back(key, value);
}

std::string_view command_name(Command c) {
  return c == Command::gc ? "gc" : c == Command::apply ? "apply" : "run";
}

// Where files may go, what is kept, the extraction limits, and the facts for the scripts.
void read_apply_limits(const po::variables_map& vm, RunOptions& r) {
  r.max_unpacked = vm["max-unpacked"].as<std::uint64_t>();
  if (vm.count("config")) r.config_file = vm["config"].as<std::string>();
  if (vm.count("allow-targets")) {
    for (const auto& d : protocol::text::split(vm["allow-targets"].as<std::string>(), ',')) {
      if (d.empty() || d.front() != '/')
        throw ConfigError("--allow-targets: '" + d + "' is not an absolute directory");
      r.allow_targets.emplace_back(d);
    }
  }
  r.keep_applies = vm["keep-applies"].as<unsigned>();
  r.keep_backups = vm["keep-backups"].as<unsigned>();
  r.keep_spool = vm["keep-spool"].as<unsigned>();
  if (r.keep_backups == 0) throw ConfigError("--keep-backups: at least 1 (restore needs one)");
  r.max_files = vm["max-files"].as<std::uint64_t>();
  if (vm.count("host-fact")) {
    for (const auto& kv : vm["host-fact"].as<std::vector<std::string>>()) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw ConfigError("--host-fact: expected KEY=VALUE, got '" + kv + "'");
      add_fact(r.host_facts, kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
}

// The ctrl group and port, and the test-only options.
void read_network(const po::variables_map& vm, RunOptions& r) {
  r.ctrl_group = vm["ctrl-group"].as<std::string>();
  auto g = protocol::text::parse_address(r.ctrl_group, 1, "--ctrl-group");
  if (!g || !g->is_multicast())
    throw ConfigError("--ctrl-group: '" + r.ctrl_group + "' is not multicast");
  r.ctrl_port = vm["ctrl-port"].as<std::uint16_t>();
  r.relay_port = vm["relay-port"].as<std::uint16_t>();
  r.relay_hop_limit = vm["relay-hop-limit"].as<int>();
  if (r.relay_hop_limit < 1 || r.relay_hop_limit > 255) {
    throw ConfigError("--relay-hop-limit: must be 1-255");
  }
  r.relay_lan_mbit = vm["relay-lan-rate"].as<double>();
  if (!(r.relay_lan_mbit >= 0 && r.relay_lan_mbit <= 100000)) {
    throw ConfigError("--relay-lan-rate: must be 0-100000 Mbit/s");
  }
  r.exit_after = vm["exit-after"].as<unsigned>();
  if (vm.count("test-drop-model")) {
    const std::string m = vm["test-drop-model"].as<std::string>();
    double a = 0, b = 0, c = 0;
    char tail = 0;
    if (std::sscanf(m.c_str(), "ge:%lf,%lf,%lf%c", &a, &b, &c, &tail) != 3 || a < 0 || a > 1 ||
        b <= 0 || b > 1 || c < 0 || c > 1) {
      throw ConfigError(
          "--test-drop-model: expected 'ge:P_GB,P_BG,LOSS_BAD' with probabilities, got '" + m +
          "'");
    }
    r.ge_good_to_bad = a;
    r.ge_bad_to_good = b;
    r.ge_loss_bad = c;
  }
}

RunOptions validate_run(const po::variables_map& vm, Command command) {
  const std::vector<const char*> needed =
      command == Command::gc ? std::vector<const char*>{"state"}
      : command == Command::apply
          ? std::vector<const char*>{"name", "manager-pub", "state"}
          : std::vector<const char*>{"name", "iface", "key", "manager-pub", "spool", "state"};
  for (const char* o : needed) {
    if (!vm.count(o)) {
      throw ConfigError(std::string(command_name(command)) + ": --" + o + " is required");
    }
  }
  RunOptions r;
  if (vm.count("name")) r.name = vm["name"].as<std::string>();
  if (command != Command::gc && !protocol::text::is_host_name(r.name))
    throw ConfigError("--name: '" + r.name + "' is not a host name");
  if (vm.count("iface")) r.iface = vm["iface"].as<std::string>();
  if (vm.count("key")) r.key = vm["key"].as<std::string>();
  if (vm.count("manager-pub")) r.manager_pub = vm["manager-pub"].as<std::string>();
  if (vm.count("spool")) r.spool = vm["spool"].as<std::string>();
  r.state = vm["state"].as<std::string>();
  r.scripts = vm["scripts"].as<std::string>();
  if (vm.count("accept-names")) {
    r.names = protocol::text::split(vm["accept-names"].as<std::string>(), ',');
    for (const auto& n : r.names) {
      if (!protocol::text::is_file_name(n))
        throw ConfigError("--accept-names: bad name '" + n + "'");
    }
  }
  read_apply_limits(vm, r);
  r.dry_run = vm.count("dry-run") > 0;
  if (vm.count("group")) r.groups = vm["group"].as<std::vector<std::string>>();
  for (const auto& g : r.groups) {
    if (!protocol::text::is_group_name(g)) throw ConfigError("--group: bad group '" + g + "'");
  }
  if (vm.count("kinds")) r.kinds = protocol::text::split(vm["kinds"].as<std::string>(), ',');
  for (const auto& k : r.kinds) {
    if (!protocol::text::is_token(k)) throw ConfigError("--kinds: bad kind '" + k + "'");
  }
  if (vm.count("max-size")) r.max_size = vm["max-size"].as<std::uint64_t>();
  r.max_clock_skew = vm["max-clock-skew"].as<std::uint64_t>();
  if (r.max_clock_skew < 5 || r.max_clock_skew > 86400) {
    throw ConfigError("--max-clock-skew: 5 to 86400 seconds");
  }
  read_network(vm, r);
  return r;
}

log::Config log_config(const po::variables_map& vm) {
  log::Config c;
  c.program = "fleetcast-receiver";
  const std::string level = vm["log-level"].as<std::string>();
  const auto parsed_level = log::parse_level(level);
  if (!parsed_level) {
    throw ConfigError("--log-level: '" + level + "' is not debug, info, notice, warning or error");
  }
  c.level = *parsed_level;
  c.syslog = vm["syslog"].as<bool>();
  return c;
}

// The command line, then the --config file; its [host] keys become facts for the update
// scripts (`facts`), any other unknown key is an error.
po::variables_map parse_values(int argc, char** argv, const po::options_description& all,
                               const po::options_description& runs, Facts& config_facts) {
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw ConfigError("--config: cannot read '" + path + "'");
      // [host] keys are facts for the update scripts; any other unknown key is an error.
      const auto parsed = po::parse_config_file(in, runs, true);
      for (const auto& o : parsed.options) {
        if (!o.unregistered) continue;
        if (!o.string_key.starts_with("host.") || o.value.size() != 1) {
          throw ConfigError("--config " + path + ": unknown option '" + o.string_key + "'");
        }
        config_facts.emplace_back(o.string_key.substr(5), o.value[0]);
      }
      po::store(parsed, vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  return vm;
}

}  // namespace

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  po::options_description general("general");
  general.add_options()("help,h", "show this help")("version", "show the version")(
      "config", po::value<std::string>(), "INI file with run options")(
      "out", po::value<std::string>(), "keygen: output directory")(
      "dry-run", "apply: run the check phase only and report what would change");
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("args",
                                                            po::value<std::vector<std::string>>());
  const po::options_description runs = run_options();
  po::options_description all;
  all.add(general).add(runs).add(hidden);
  std::ostringstream help;
  help << kUsage << "\n" << general << "\n" << runs;
  inv.help_text = help.str();
  Facts config_facts;
  const po::variables_map vm = parse_values(argc, argv, all, runs, config_facts);
  if (vm.count("help")) return inv;
  inv.log = log_config(vm);
  if (vm.count("version")) {
    inv.command = Command::version;
    return inv;
  }
  if (!vm.count("command")) throw ConfigError("no command given (try --help)");
  const std::string command = vm["command"].as<std::string>();
  const auto args =
      vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (command == "keygen") {
    if (!vm.count("out")) throw ConfigError("keygen: --out DIR is required");
    if (!args.empty()) throw ConfigError("keygen: unexpected argument '" + args[0] + "'");
    inv.command = Command::keygen;
    inv.key_dir = vm["out"].as<std::string>();
    if (vm.count("name")) {
      inv.host_name = vm["name"].as<std::string>();
      if (!protocol::text::is_host_name(inv.host_name)) {
        throw ConfigError("--name '" + inv.host_name + "' is not a host name ([A-Za-z0-9.-])");
      }
    }
  } else if (command == "fingerprint") {
    if (args.size() != 1) throw ConfigError("fingerprint: exactly one FILE expected");
    inv.command = Command::fingerprint;
    inv.key_file = args[0];
  } else if (command == "run") {
    if (!args.empty()) throw ConfigError("run: unexpected argument '" + args[0] + "'");
    inv.command = Command::run;
    inv.run = validate_run(vm, Command::run);
    if (inv.run.dry_run) throw ConfigError("--dry-run: only for apply (push --dry-run asks hosts)");
  } else if (command == "apply") {
    if (args.size() != 1) throw ConfigError("apply: exactly one BUNDLE expected");
    inv.command = Command::apply;
    inv.run = validate_run(vm, Command::apply);
    inv.run.bundle = args[0];
  } else if (command == "gc") {
    if (!args.empty()) throw ConfigError("gc: unexpected argument '" + args[0] + "'");
    inv.command = Command::gc;
    inv.run = validate_run(vm, Command::gc);
  } else {
    throw ConfigError("unknown command '" + command + "' (try --help)");
  }
  if (inv.command == Command::run || inv.command == Command::apply) {
    // Facts from the INI file first; --host-fact entries after them (a later key wins).
    Facts facts;
    for (const auto& [k, v] : config_facts) add_fact(facts, k, v);
    inv.run.host_facts.insert(inv.run.host_facts.begin(), facts.begin(), facts.end());
  }
  return inv;
}

}  // namespace fleetcast::receiver
