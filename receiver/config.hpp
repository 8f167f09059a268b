#pragma once
// Command line of fleetcast-receiver: parse -> validate -> plain struct. Boost.Program_options
// appears only in config.cpp. Errors throw ConfigError naming the option and the bad value.

#include <filesystem>
#include <stdexcept>
#include <string>

namespace fleetcast::receiver {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Command { help, version, keygen, fingerprint };

struct Invocation {
  Command command = Command::help;
  std::string help_text;           // for Command::help (and usage errors)
  std::filesystem::path key_dir;   // keygen --out
  std::string host_name;           // keygen --name (written into the public key file)
  std::filesystem::path key_file;  // fingerprint FILE
};

Invocation parse_command_line(int argc, char** argv);

}  // namespace fleetcast::receiver
