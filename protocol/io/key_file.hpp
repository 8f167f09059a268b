#pragma once
// Key files on disk. Start-up code: failures throw KeyFileError naming the path, the failing
// call and errno's text.
//
// Secret keys are created 0600 with O_EXCL (never overwritten) and fsync'ed with their directory;
// a secret key file readable or writable by group or others is refused, as ssh refuses one.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "protocol/keys.hpp"

namespace fleetcast::protocol::io {

class KeyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writes <dir>/<stem>.key (0600) and <dir>/<stem>.pub (0644); creates dir (0700) if missing.
// Refuses when either file exists.
void write_key_pair(const std::filesystem::path& dir, std::string_view stem, const SecretKey& key,
                    std::string_view host_name);

SecretKey load_secret_key(const std::filesystem::path& path);
PublicKeyFile load_public_key(const std::filesystem::path& path);

// "key-id <16 hex>\nfingerprint blake2b:....\n[host <name>\n]" for a public or secret key file.
std::string describe_key_file(const std::filesystem::path& path);

}  // namespace fleetcast::protocol::io
