#include "sender/cli/config.hpp"

#include "sender/cli/options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>

#include "protocol/io/clock.hpp"
#include "protocol/text.hpp"
#include "sender/fleet/window.hpp"

namespace po = boost::program_options;

namespace fleetcast::sender {
namespace {

// The command line, then the --config file for the send options it does not give.
po::variables_map parse_values(int argc, char** argv, const po::options_description& all,
                               const po::options_description& sends) {
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw ConfigError("--config: cannot read '" + path + "'");
      po::store(po::parse_config_file(in, sends), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  return vm;
}

log::Config log_config(const po::variables_map& vm) {
  log::Config c;
  c.program = "fleetcast-sender";
  c.syslog = vm["syslog"].as<bool>();
  const bool daemon = vm.count("command") && vm["command"].as<std::string>() == "serve";
  const std::string level = vm.count("log-level") ? vm["log-level"].as<std::string>()
                            : daemon              ? "info"
                                                  : "warning";
  const auto parsed_level = log::parse_level(level);
  if (!parsed_level) {
    throw ConfigError("--log-level: '" + level + "' is not debug, info, notice, warning or error");
  }
  c.level = *parsed_level;
  return c;
}

using Args = std::vector<std::string>;

void parse_inventory(const po::variables_map& vm, const Args& args, Invocation& inv) {
  if (args.size() != 1 ||
      (args[0] != "add" && args[0] != "redundancy" && args[0] != "list" && args[0] != "site"))
    throw ConfigError(
        "inventory: expected 'inventory add', 'inventory redundancy', 'inventory site' or "
        "'inventory list'");
  if (args[0] == "site") {
    for (const char* o : {"inventory", "name", "relay", "address"})
      require(vm, o, "inventory site");
    inv.command = Command::inventory_site;
    inv.inventory = vm["inventory"].as<std::string>();
    // The line's fields, checked as the inventory checks them (fleet/site.hpp).
    inv.site_fields = vm["name"].as<std::string>() + " relay=" + vm["relay"].as<std::string>() +
                      " address=" + vm["address"].as<std::string>();
    if (vm.count("uplink")) inv.site_fields += " uplink=" + vm["uplink"].as<std::string>();
    if (vm.count("member")) {
      std::string hosts;
      for (const auto& m : vm["member"].as<std::vector<std::string>>()) {
        hosts += (hosts.empty() ? "" : ",") + m;
      }
      inv.site_fields += " hosts=" + hosts;
    }
    return;
  }
  if (args[0] == "list") {
    require(vm, "inventory", "inventory list");
    inv.command = Command::inventory_list;
    inv.inventory = vm["inventory"].as<std::string>();
    return;
  }
  if (args[0] == "redundancy") {
    for (const char* o : {"inventory", "name", "service", "member"})
      require(vm, o, "inventory redundancy");
    inv.command = Command::inventory_redundancy;
    inv.inventory = vm["inventory"].as<std::string>();
    inv.host_name = vm["name"].as<std::string>();
    inv.redundancy_service = vm["service"].as<std::string>();
    inv.redundancy_members = vm["member"].as<std::vector<std::string>>();
    return;
  }
  for (const char* o : {"inventory", "name", "pub"}) require(vm, o, "inventory add");
  inv.command = Command::inventory_add;
  inv.inventory = vm["inventory"].as<std::string>();
  inv.host_name = vm["name"].as<std::string>();
  if (!protocol::text::is_host_name(inv.host_name)) {
    throw ConfigError("--name: '" + inv.host_name + "' is not a host name");
  }
  inv.host_pub = vm["pub"].as<std::string>();
  if (vm.count("group")) inv.host_groups = vm["group"].as<std::vector<std::string>>();
  for (const auto& g : inv.host_groups) {
    if (!protocol::text::is_group_name(g)) throw ConfigError("--group: bad group '" + g + "'");
  }
}

void parse_send(const std::string& command, const po::variables_map& vm, const Args& args,
                Invocation& inv) {
  inv.command = command == "send" ? Command::send : Command::push;
  inv.send = validate_send(vm, args);
  inv.send.push = command == "push";
  if (!inv.send.push && inv.send.dry_run) throw ConfigError("--dry-run: only for push");
  // A push to two or more members of a redundancy group is a rollout in turns (send_command):
  // each host's apply is independent (no halt), a member waits for the one before it.
  inv.rollout.in_turns = true;
  inv.rollout.waves_text = "turns";
  inv.rollout.max_fail = Amount{100, true};
  inv.rollout.activate_timeout = inv.send.fin_timeout;
}

void parse_rollout(const po::variables_map& vm, const Args& args, Invocation& inv) {
  if (!args.empty() && args[0] == "status") {
    require(vm, "state", "rollout status");
    if (args.size() > 2) throw ConfigError("rollout status: at most one rollout ID");
    inv.command = Command::rollout_status;
    inv.status.state = vm["state"].as<std::string>();
    if (vm.count("json")) inv.status.format = StatusOptions::Format::json;
    if (args.size() == 2) {
      const auto& id = args[1];
      if (id.empty() || id.size() > 15 || id.find_first_not_of("0123456789") != std::string::npos)
        throw ConfigError("rollout status: '" + id + "' is not a rollout ID");
      inv.status.rollout = std::stoll(id);
    }
    return;
  }
  if (args.size() == 1 &&
      (args[0] == "resume" || args[0] == "pause" || args[0] == "abort" || args[0] == "list")) {
    require(vm, "state", ("rollout " + args[0]).c_str());
    inv.command = args[0] == "resume"  ? Command::rollout_resume
                  : args[0] == "pause" ? Command::rollout_pause
                  : args[0] == "abort" ? Command::rollout_abort
                                       : Command::rollout_list;
    inv.status.state = vm["state"].as<std::string>();
    return;
  }
  if (args.size() != 2 || (args[0] != "plan" && args[0] != "run" && args[0] != "start")) {
    throw ConfigError(
        "rollout: expected 'rollout plan|run|start BUNDLE', 'rollout status [ID]' or 'rollout "
        "resume|pause|abort|list'");
  }
  inv.command = args[0] == "plan"  ? Command::rollout_plan
                : args[0] == "run" ? Command::rollout_run
                                   : Command::rollout_start;
  if (inv.command == Command::rollout_start) {
    require(vm, "state", "rollout start");
    require(vm, "at", "rollout start");
  } else if (vm.count("at")) {
    throw ConfigError("--at: only for rollout start");
  }
  inv.send = validate_send(vm, {args[1]});
  inv.send.push = true;
  if (inv.send.dry_run) throw ConfigError("--dry-run: use push --dry-run to check a bundle");
  inv.rollout = validate_rollout(vm);
}

void parse_status(const std::string& command, const po::variables_map& vm, const Args& args,
                  Invocation& inv) {
  if (command == "receipts" && (args.size() != 1 || args[0] != "verify")) {
    throw ConfigError("receipts: expected 'receipts verify'");
  }
  if (command == "status" && !args.empty()) {
    throw ConfigError("status: unexpected argument '" + args[0] + "'");
  }
  require(vm, "state", command.c_str());
  inv.command = command == "status" ? Command::status : Command::receipts_verify;
  inv.status.state = vm["state"].as<std::string>();
  if (vm.count("bundle")) inv.status.bundle = vm["bundle"].as<std::string>();
  if (vm.count("host")) inv.status.host = vm["host"].as<std::string>();
  if (vm.count("json") && vm.count("csv")) throw ConfigError("status: --json or --csv, not both");
  if (vm.count("json")) inv.status.format = StatusOptions::Format::json;
  if (vm.count("csv")) inv.status.format = StatusOptions::Format::csv;
  if (vm.count("refresh")) {
    if (command != "status") throw ConfigError("--refresh: only for status");
    inv.status.refresh = validate_network(vm, "status --refresh");
    // The hosts behind a site's relay are asked through it (fleet/site.hpp).
    if (vm.count("inventory")) inv.status.refresh->inventory = vm["inventory"].as<std::string>();
    const int t = vm["refresh-timeout"].as<int>();
    if (t < 1 || t > 600) throw ConfigError("--refresh-timeout: must be 1-600 seconds");
    inv.status.refresh_timeout = std::chrono::seconds(t);
  }
}

void parse_bundle(const po::variables_map& vm, const Args& args, Invocation& inv) {
  if (!args.empty() && args[0] == "lint") {
    if (args.size() != 2) throw ConfigError("bundle lint: exactly one BUNDLE expected");
    for (const char* o : {"inventory", "key"}) require(vm, o, "bundle lint");
    inv.command = Command::bundle_lint;
    inv.send.file = args[1];
    inv.send.inventory = vm["inventory"].as<std::string>();
    inv.send.key = vm["key"].as<std::string>();
    if (vm.count("hosts"))
      inv.send.hosts = protocol::text::split(vm["hosts"].as<std::string>(), ',');
    if (vm.count("state")) inv.send.state = vm["state"].as<std::string>();
    inv.send.push = true;
    return;
  }
  inv.bundle = validate_bundle(vm, args);
  inv.command = args[0] == "create"    ? Command::bundle_create
                : args[0] == "seal"    ? Command::bundle_seal
                : args[0] == "inspect" ? Command::bundle_inspect
                                       : Command::bundle_verify;
}

}  // namespace

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  inv.argv.assign(argv, argv + argc);
  const po::options_description general = general_options();
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("args",
                                                            po::value<std::vector<std::string>>());
  po::options_description sends = send_options();
  sends.add(rollout_options());
  po::options_description all;
  all.add(general).add(sends).add(hidden);
  std::ostringstream help;
  help << kUsage << "\n" << general << "\n" << sends;
  inv.help_text = help.str();
  const po::variables_map vm = parse_values(argc, argv, all, sends);
  if (vm.count("help")) return inv;
  inv.log = log_config(vm);
  if (vm.count("version")) {
    inv.command = Command::version;
    return inv;
  }
  if (!vm.count("command")) throw ConfigError("no command given (try --help)");
  const std::string command = vm["command"].as<std::string>();
  const Args args = vm.count("args") ? vm["args"].as<Args>() : Args{};
  if (command == "keygen") {
    require(vm, "out", "keygen");
    if (!args.empty()) throw ConfigError("keygen: unexpected argument '" + args[0] + "'");
    inv.command = Command::keygen;
    inv.key_dir = vm["out"].as<std::string>();
  } else if (command == "fingerprint") {
    if (args.size() != 1) throw ConfigError("fingerprint: exactly one FILE expected");
    inv.command = Command::fingerprint;
    inv.key_file = args[0];
  } else if (command == "inventory") {
    parse_inventory(vm, args, inv);
  } else if (command == "send" || command == "push") {
    parse_send(command, vm, args, inv);
  } else if (command == "rollout") {
    parse_rollout(vm, args, inv);
  } else if (command == "serve") {
    if (!args.empty()) throw ConfigError("serve: unexpected argument '" + args[0] + "'");
    require(vm, "state", "serve");
    inv.command = Command::serve;
    inv.status.state = vm["state"].as<std::string>();
    if (vm.count("http")) inv.http = vm["http"].as<std::string>();
  } else if (command == "status" || command == "receipts") {
    parse_status(command, vm, args, inv);
  } else if (command == "bundle") {
    parse_bundle(vm, args, inv);
  } else {
    throw ConfigError("unknown command '" + command + "' (try --help)");
  }
  return inv;
}

}  // namespace fleetcast::sender
