#pragma once
// Bounded state and spool (issue "apply side under adversity", finding 5). Every apply works on
// its own copy of the bundle (<state>/apply/<id>/), every bundle version keeps a backup
// (<state>/backups/<name>/<version>/), and every delivery leaves a file in the spool; without
// pruning, repeated pushes fill the disk. What a pending rollback needs is never removed: an
// apply the journal shows unfinished keeps its work directory and its backup.
//
//   apply/<id>/     finished: the bundle copy and payload go at once (the phase logs stay);
//                   only the newest keep_applies directories stay at all
//   backups/<name>/ the newest keep_backups versions per name (a `restore` bundle names one)
//   spool           applied bundles: the newest keep_spool stay (a re-push of one is then not
//                   received again); a partial .part of an older reception: the newest one
//                   stays for a resume, older ones go with their reception state. Files
//                   delivered without an apply (send) are the operator's and are never pruned.

#include <cstdint>
#include <filesystem>
#include <string>

#include "receiver/apply/journal.hpp"

namespace fleetcast::receiver {

struct RetentionLimits {
  unsigned keep_applies = 20;  // finished apply directories (logs only)
  unsigned keep_backups = 3;   // backup versions per bundle name
  unsigned keep_spool = 3;     // applied bundles kept in the spool
};

struct Freed {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  Freed& operator+=(const Freed& o) {
    files += o.files;
    bytes += o.bytes;
    return *this;
  }
};

// Prunes <state>/apply/ and <state>/backups/ (applier thread, or with no apply running).
Freed prune_state(const std::filesystem::path& state, const Journal& journal,
                  const RetentionLimits& limits);

// Prunes the spool: applied bundles beyond the limit, and partial files other than the one
// named `receiving` (the current reception: never touched) and the newest other one. Reception
// state files (<state>/<name>.state) of what goes are removed with it.
Freed prune_spool(const std::filesystem::path& spool, const std::filesystem::path& state,
                  const Journal& journal, const RetentionLimits& limits,
                  const std::string& receiving);

// Bytes of the regular files under `dir` (for reports and tests).
std::uint64_t tree_bytes(const std::filesystem::path& dir);

}  // namespace fleetcast::receiver
