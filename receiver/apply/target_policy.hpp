#pragma once
// Where bundles of the file kinds (config-files, backup, restore) may act (issue "apply side
// under adversity", finding 10). Any host that accepts such a kind could otherwise be sent a
// bundle that rewrites the receiver's own key, configuration, scripts or state, and with them
// every later decision. A target must lie under one of the allowed directories (none listed:
// anywhere) and never at or under a protected path. Paths are compared after resolving links
// of the parts that exist, so /etc/x -> /var/lib/fleetcast does not hide the state directory.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fleetcast::receiver {

struct ProtectedPath {
  std::filesystem::path path;
  std::string what;  // "the receiver's own key", ...
};

struct TargetPolicy {
  std::vector<std::filesystem::path> allowed;  // allow-targets; empty: anywhere
  std::vector<ProtectedPath> protected_paths;  // never, whatever `allowed` says
};

// Why `target` is refused, or nullopt when the policy allows it.
std::optional<std::string> refuse_target(const TargetPolicy& policy,
                                         const std::filesystem::path& target);

}  // namespace fleetcast::receiver
