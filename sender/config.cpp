#include "sender/config.hpp"

#include <boost/program_options.hpp>

namespace po = boost::program_options;

namespace fleetcast::sender {
namespace {

constexpr const char* kUsage =
    "fleetcast-sender: the fleetcast manager. Signs and pushes update bundles to a fleet over\n"
    "IPv6 multicast and collects per-host receipts.\n"
    "\n"
    "Usage:\n"
    "  fleetcast-sender keygen --out DIR        create DIR/manager.key (0600) and DIR/manager.pub\n"
    "  fleetcast-sender fingerprint FILE        print the key ID and fingerprint of a key file\n"
    "  fleetcast-sender --help | --version\n"
    "\n"
    "Give DIR/manager.pub to every host (its --manager-pub); keep DIR/manager.key secret.\n";

}  // namespace

Invocation parse_command_line(int argc, char** argv) {
  Invocation inv;
  inv.help_text = kUsage;
  po::options_description global("Options");
  global.add_options()("help,h", "show this help")("version", "show the version")(
      "out", po::value<std::string>(), "keygen: directory for manager.key / manager.pub")(
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
  } else if (command == "fingerprint") {
    if (args.size() != 1) throw ConfigError("fingerprint: exactly one FILE expected");
    inv.command = Command::fingerprint;
    inv.key_file = args[0];
  } else {
    throw ConfigError("unknown command '" + command + "' (try --help)");
  }
  return inv;
}

}  // namespace fleetcast::sender
