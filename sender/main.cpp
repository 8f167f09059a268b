// fleetcast-sender entry point: parse the command line, run one command, map errors to exit codes
// (0 ok, 1 runtime failure, 2 usage error).

#include <cstdio>
#include <exception>

#include "protocol/io/key_file.hpp"
#include "sender/config.hpp"

namespace {

int run(const fleetcast::sender::Invocation& inv) {
  using fleetcast::sender::Command;
  namespace io = fleetcast::protocol::io;
  switch (inv.command) {
    case Command::help:
      std::fputs(inv.help_text.c_str(), stdout);
      return 0;
    case Command::version:
      std::puts("fleetcast-sender " FLEETCAST_VERSION);
      return 0;
    case Command::keygen: {
      const auto key = fleetcast::protocol::SecretKey::generate();
      io::write_key_pair(inv.key_dir, "manager", key, "");
      std::printf("wrote %s/manager.key (0600) and %s/manager.pub\n", inv.key_dir.c_str(),
                  inv.key_dir.c_str());
      std::fputs(io::describe_key_file(inv.key_dir / "manager.pub").c_str(), stdout);
      return 0;
    }
    case Command::fingerprint:
      std::fputs(io::describe_key_file(inv.key_file).c_str(), stdout);
      return 0;
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fleetcast::sender::Invocation inv;
  try {
    inv = fleetcast::sender::parse_command_line(argc, argv);
  } catch (const fleetcast::sender::ConfigError& e) {
    std::fprintf(stderr, "fleetcast-sender: %s\n", e.what());
    return 2;
  }
  try {
    return run(inv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fleetcast-sender: %s\n", e.what());
    return 1;
  }
}
