#include "receiver/config.hpp"

#include <boost/program_options.hpp>

#include "protocol/text.hpp"

namespace po = boost::program_options;

namespace fleetcast::receiver {
namespace {

constexpr const char* kUsage =
    "fleetcast-receiver: the fleetcast host agent. Receives signed update bundles over IPv6\n"
    "multicast, applies them with self-checking update scripts and reports FIN receipts.\n"
    "\n"
    "Usage:\n"
    "  fleetcast-receiver keygen --out DIR [--name HOST]\n"
    "                                           create DIR/host.key (0600) and DIR/host.pub\n"
    "  fleetcast-receiver fingerprint FILE        print the key ID and fingerprint of a key file\n"
    "  fleetcast-receiver --help | --version\n"
    "\n"
    "Give DIR/host.pub to the manager (inventory add); keep DIR/host.key secret.\n";

}  // namespace

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  inv.help_text = kUsage;
  po::options_description global("Options");
  global.add_options()("help,h", "show this help")("version", "show the version")(
      "out", po::value<std::string>(), "keygen: directory for host.key / host.pub")(
      "name", po::value<std::string>(), "keygen: this host's name, recorded in host.pub")(
      "command", po::value<std::string>(), "")("args", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(global).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw ConfigError(e.what());
  }
  const auto args =
      vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (vm.count("help")) return inv;
  if (vm.count("version")) {
    inv.command = Command::version;
    return inv;
  }
  if (!vm.count("command")) throw ConfigError("no command given (try --help)");
  const std::string command = vm["command"].as<std::string>();
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
  } else {
    throw ConfigError("unknown command '" + command + "' (try --help)");
  }
  return inv;
}

}  // namespace fleetcast::receiver
