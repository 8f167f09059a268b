#include "protocol/program/program.hpp"

#include <string>

#include "protocol/io/key_file.hpp"

namespace fleetcast::protocol::program {

int keygen_command(const std::filesystem::path& dir, std::string_view stem,
                   std::string_view host_name) {
  const auto key = SecretKey::generate();
  io::write_key_pair(dir, stem, key, host_name);
  const std::string s(stem);
  std::printf("wrote %s/%s.key (0600) and %s/%s.pub\n", dir.c_str(), s.c_str(), dir.c_str(),
              s.c_str());
  std::fputs(io::describe_key_file(dir / (s + ".pub")).c_str(), stdout);
  return 0;
}

int fingerprint_command(const std::filesystem::path& file) {
  std::fputs(io::describe_key_file(file).c_str(), stdout);
  return 0;
}

}  // namespace fleetcast::protocol::program
