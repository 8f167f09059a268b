#pragma once
// What both programs share above the libraries: the key commands they offer (`keygen`,
// `fingerprint`) and the exit-code convention of their main(): 0 ok, 1 runtime failure (message on
// stderr), 2 usage error.

#include <cstdio>
#include <exception>
#include <filesystem>
#include <string_view>

namespace fleetcast::protocol::program {

// Writes <dir>/<stem>.key (0600) and <dir>/<stem>.pub, then prints the key ID and fingerprint.
int keygen_command(const std::filesystem::path& dir, std::string_view stem,
                   std::string_view host_name);
// Prints key ID, fingerprint and host name of a public or secret key file.
int fingerprint_command(const std::filesystem::path& file);

// Runs parse() then run(parsed); maps UsageError (from parse) to 2 and any other exception to 1.
template <class UsageError, class Parse, class Run>
int guarded_main(const char* program, Parse&& parse, Run&& run) {
  try {
    auto parsed = parse();
    try {
      return run(parsed);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", program, e.what());
      return 1;
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  }
}

}  // namespace fleetcast::protocol::program
