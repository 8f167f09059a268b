// fleetcast-receiver entry point: parse the command line, run one command.

#include <cstdio>

#include "protocol/program/program.hpp"
#include "receiver/cli/config.hpp"
#include "receiver/cli/run_command.hpp"

namespace {

int run(const fleetcast::receiver::Invocation& inv) {
  using fleetcast::receiver::Command;
  fleetcast::log::configure(inv.log);
  switch (inv.command) {
    case Command::help:
      std::fputs(inv.help_text.c_str(), stdout);
      return 0;
    case Command::version:
      std::puts("fleetcast-receiver " FLEETCAST_VERSION);
      return 0;
    case Command::keygen:
      return fleetcast::protocol::program::keygen_command(inv.key_dir, "host", inv.host_name);
    case Command::fingerprint:
      return fleetcast::protocol::program::fingerprint_command(inv.key_file);
    case Command::run:
      return fleetcast::receiver::run_command(inv.run);
    case Command::apply:
      return fleetcast::receiver::apply_command(inv.run);
    case Command::gc:
      return fleetcast::receiver::gc_command(inv.run);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  return fleetcast::protocol::program::guarded_main<fleetcast::receiver::ConfigError>(
      "fleetcast-receiver", [&] { return fleetcast::receiver::parse_command_line(argc, argv); },
      run);
}
