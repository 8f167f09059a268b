#pragma once
// manifest.ini: what a bundle is and how it is applied. Host facts (where this host's dhcpd.conf
// lives, how its server restarts) are not here: they come from the receiver's own config.
//
//   [bundle]
//   name = school-dhcp          ; file-name alphabet; versions are monotonic per name
//   version = 7                 ; 1.. ; an older or equal version is reported, not applied
//   kind = dhcp-server          ; dhcp-server | config-files | patch | backup | restore
//   targets = *                 ; optional: host names and @groups, comma-separated
//   apply-timeout = 120         ; optional: seconds for each phase script (default 120)
//   description = ...           ; optional
//
//   [dhcp-server]               ; the section named after the kind: settings for its script
//   server = dhcpd              ; (keys and values are documented in update-scripts/README.md)
//
//   [file:motd]                 ; config-files / backup / restore: one section per file
//   source = motd               ; payload path (config-files)
//   target = /etc/motd          ; absolute path on the host
//   owner = root                ; optional, default root
//   group = root                ; optional, default root
//   mode = 0644                 ; optional, octal, default 0644
//   validate = /usr/sbin/nginx -t -c {}   ; optional, {} = the staged file
//
// Payload paths name files in the bundle. hosts/<host name>/<path> overrides <path> for that
// host only, so one bundle serves hosts whose files differ.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetcast::protocol::bundle {

class ManifestError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kManifestName = "manifest.ini";
inline constexpr std::string_view kHostsDir = "hosts";
inline constexpr std::chrono::seconds kDefaultApplyTimeout{120};
inline constexpr std::chrono::seconds kMaxApplyTimeout{3600};

struct FileSpec {
  std::string id;      // [file:<id>]
  std::string source;  // payload path; empty for backup / restore
  std::string target;  // absolute path on the host
  std::string owner = "root";
  std::string group = "root";
  std::uint32_t mode = 0644;
  std::string validate;  // command, "{}" replaced by the staged file; empty: none
};

struct Manifest {
  std::string name;
  std::uint64_t version = 0;
  std::string kind;
  std::vector<std::string> targets;  // empty: every host that trusts the manager
  std::chrono::seconds apply_timeout = kDefaultApplyTimeout;
  std::string description;
  std::vector<std::pair<std::string, std::string>> settings;  // [<kind>], in file order
  std::vector<FileSpec> files;                                // [file:<id>], in file order

  // The value of a [<kind>] setting, or `fallback`.
  std::string setting(std::string_view key, std::string_view fallback = {}) const;
  // Every payload path the manifest names (the settings `config`, `script`, `*-script`, each
  // item of `packages`, and file sources): create and extract check that each is in the bundle.
  std::vector<std::string> payload_paths() const;
};

inline constexpr std::string_view kKinds[] = {"dhcp-server", "config-files", "patch", "backup",
                                              "restore"};

// Parses and validates; throws ManifestError naming the section, key and bad value.
Manifest parse_manifest(std::string_view ini);

// A relative path inside a bundle: no '/', '.', '..' or empty components, printable ASCII.
bool is_safe_relative_path(std::string_view path);

}  // namespace fleetcast::protocol::bundle
