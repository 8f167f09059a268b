#include "receiver/apply/retention.hpp"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace fleetcast::receiver {
namespace fs = std::filesystem;
namespace {

// Removes `p` (a file or a tree), adding what it held to `freed`. Errors are left for the next
// run: pruning is an optimisation, never a reason to fail an apply.
void remove_counted(const fs::path& p, Freed& freed) {
  std::error_code ec;
  const std::uint64_t bytes =
      fs::is_directory(fs::symlink_status(p, ec)) ? tree_bytes(p) : fs::file_size(p, ec);
  const auto n = fs::remove_all(p, ec);
  if (ec || n == 0) return;
  freed.files += n;
  freed.bytes += bytes;
}

// Entries of `dir` whose names are decimal numbers, as (number, path), ascending.
std::vector<std::pair<std::uint64_t, fs::path>> numbered(const fs::path& dir) {
  std::vector<std::pair<std::uint64_t, fs::path>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.size() > 19 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    out.emplace_back(std::stoull(name), e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void prune_applies(const fs::path& apply_dir, const std::set<std::int64_t>& unfinished,
                   unsigned keep, Freed& freed) {
  const auto dirs = numbered(apply_dir);
  std::size_t finished_seen = 0;
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {  // newest first
    if (unfinished.count(static_cast<std::int64_t>(it->first))) continue;
    if (++finished_seen > keep) {
      remove_counted(it->second, freed);
      continue;
    }
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(it->second, ec)) {
      if (e.path().extension() != ".log") remove_counted(e.path(), freed);
    }
  }
}

void prune_backups(const fs::path& backups,
                   const std::set<std::pair<std::string, std::uint64_t>>& pending, unsigned keep,
                   Freed& freed) {
  std::error_code ec;
  for (const auto& name : fs::directory_iterator(backups, ec)) {
    const auto versions = numbered(name.path());
    const std::string bundle = name.path().filename().string();
    std::size_t kept = 0;
    for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
      if (pending.count({bundle, it->first}) || ++kept <= keep) continue;
      remove_counted(it->second, freed);
    }
  }
}

}  // namespace

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec) && !it->is_symlink(ec)) total += it->file_size(ec);
  }
  return total;
}

Freed prune_state(const fs::path& state, const Journal& journal, const RetentionLimits& limits) {
  std::set<std::int64_t> unfinished;
  std::set<std::pair<std::string, std::uint64_t>> pending;
  for (const ApplyRecord& r : journal.unfinished()) {
    unfinished.insert(r.id);
    if (!r.name.empty()) pending.insert({r.name, r.version});
  }
  Freed freed;
  prune_applies(state / "apply", unfinished, limits.keep_applies, freed);
  prune_backups(state / "backups", pending, limits.keep_backups, freed);
  return freed;
}

Freed prune_spool(const fs::path& spool, const fs::path& state, const Journal& journal,
                  const RetentionLimits& limits, const std::string& receiving) {
  Freed freed;
  // Applied bundles, newest apply first: the first keep_spool stay.
  const std::vector<std::string> applied = journal.finished_file_names();
  for (std::size_t i = limits.keep_spool; i < applied.size(); ++i) {
    const std::string& name = applied[i];
    if (name == receiving || !fs::exists(spool / name)) continue;
    remove_counted(spool / name, freed);
    remove_counted(state / (name + ".state"), freed);
  }
  // Partial receptions other than the current one: the newest stays for a resume.
  std::vector<std::pair<fs::file_time_type, fs::path>> parts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(spool, ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() > 6 && f.front() == '.' && f.ends_with(".part") &&
        f != "." + receiving + ".part") {
      parts.emplace_back(e.last_write_time(ec), e.path());
    }
  }
  std::sort(parts.begin(), parts.end(), std::greater<>());
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string f = parts[i].second.filename().string();
    const std::string name = f.substr(1, f.size() - 6);
    remove_counted(parts[i].second, freed);
    if (!fs::exists(spool / name)) remove_counted(state / (name + ".state"), freed);
  }
  return freed;
}

}  // namespace fleetcast::receiver
