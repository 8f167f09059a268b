#pragma once
// `fleetcast-sender bundle create | seal | inspect | verify`: build a signed bundle from a
// directory or seal an archive made elsewhere, show what one holds, check its seal.
// protocol/bundle/ holds the format.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleetcast::sender {

struct BundleOptions {
  std::filesystem::path input;               // create: the directory; inspect / verify: the bundle
  std::filesystem::path output;              // create: -o
  std::optional<std::filesystem::path> key;  // manager.key (create; or its public half)
  std::optional<std::filesystem::path> manager_pub;  // inspect / verify
  bool allow_unsafe = false;                         // seal: skip the receiver's checks
  // create --encrypt: the inventory whose hosts (all, or encrypt_hosts) may read it.
  std::optional<std::filesystem::path> encrypt_for;
  std::vector<std::string> encrypt_hosts;
};

int bundle_create_command(const BundleOptions& o);
int bundle_seal_command(const BundleOptions& o);
int bundle_inspect_command(const BundleOptions& o);
int bundle_verify_command(const BundleOptions& o);

}  // namespace fleetcast::sender
