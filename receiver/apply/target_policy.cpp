#include "receiver/apply/target_policy.hpp"

#include <algorithm>

namespace fleetcast::receiver {
namespace fs = std::filesystem;
namespace {

fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? p.lexically_normal() : r;
}

// `p` is `dir` or lies under it (both resolved).
bool within(const fs::path& p, const fs::path& dir) {
  const auto [d, _] = std::mismatch(dir.begin(), dir.end(), p.begin(), p.end());
  return d == dir.end() || (std::next(d) == dir.end() && d->empty());  // "dir/" matches too
}

}  // namespace

std::optional<std::string> refuse_target(const TargetPolicy& policy, const fs::path& target) {
  if (!target.is_absolute()) return "target " + target.string() + " is not an absolute path";
  const fs::path t = resolved(target);
  for (const ProtectedPath& p : policy.protected_paths) {
    if (p.path.empty()) continue;
    if (within(t, resolved(p.path))) {
      return "target " + target.string() + " is " + p.what + " (" + p.path.string() +
             "): never a bundle's to change";
    }
  }
  if (policy.allowed.empty()) return std::nullopt;
  const bool allowed = std::any_of(policy.allowed.begin(), policy.allowed.end(),
                                   [&](const fs::path& dir) { return within(t, resolved(dir)); });
  if (allowed) return std::nullopt;
  std::string dirs;
  for (const auto& d : policy.allowed) dirs += (dirs.empty() ? "" : ", ") + d.string();
  return "target " + target.string() + " is outside allow-targets (" + dirs + ")";
}

}  // namespace fleetcast::receiver
