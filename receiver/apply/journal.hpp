#pragma once
// The apply journal: one SQLite database (<state>/apply.db, synchronous=FULL), so each phase
// transition is on stable storage before the phase starts. After a crash the journal says where
// every apply stood: the applier finishes or rolls back from there (apply.hpp), and `installed`
// says which version of each bundle name is in place, so nothing is ever applied twice.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/control.hpp"
#include "protocol/io/sqlite.hpp"

namespace fleetcast::receiver {

class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Phases in order; `done` ends every apply, whatever its status.
enum class Phase { received, check, backup, apply, verify, rollback, done };
std::string_view to_string(Phase p);

// One apply, typed; the journal turns it into text only in its own tables.
struct ApplyRecord {
  std::int64_t id = 0;
  std::string file_name;      // as announced and stored in the spool
  protocol::Digest digest{};  // BLAKE2b-256 of the bundle file (the announced digest)
  // The delivery this apply answers, whose FIN is bound to it: its session and the manager's
  // reply endpoint (both nullopt for a local apply: nobody to tell).
  std::optional<protocol::SessionId> session;
  std::optional<protocol::Endpoint> reply;
  protocol::ApplyMode mode = protocol::ApplyMode::now;  // now, dry-run or hold
  std::string name;  // bundle name from the manifest ("" until the seal verified)
  std::uint64_t version = 0;
  std::string kind;
  Phase phase = Phase::received;
  std::optional<protocol::FinStatus> status;  // once done
  std::string message;                        // the FIN message, once done
  std::string failed_phase;                   // the phase that failed (before a rollback)
};

class Journal {
 public:
  explicit Journal(const std::filesystem::path& db);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // A new apply in phase `received`; returns its id.
  std::int64_t begin(const ApplyRecord& r);
  // Durable before it returns.
  void set_bundle(std::int64_t id, const std::string& name, std::uint64_t version,
                  const std::string& kind);
  void set_phase(std::int64_t id, Phase phase, const std::string& failed_phase = {});
  // Ends the apply; with `installed` also records name -> version as in place, atomically.
  void finish(std::int64_t id, protocol::FinStatus status, const std::string& message,
              bool installed);

  std::optional<ApplyRecord> get(std::int64_t id) const;
  std::vector<ApplyRecord> unfinished() const;
  // The latest finished apply of this file digest in this session (FIN resend, duplicates).
  std::optional<ApplyRecord> finished_for(const protocol::Digest& digest,
                                          protocol::SessionId session) const;
  // Spool file names of finished applies, newest apply first; a name with an unfinished apply,
  // or whose latest result is `held` (waiting for its ACTIVATE), is left out: its bundle is
  // still needed.
  std::vector<std::string> finished_file_names() const;
  // The newest finished apply of each of the last `sessions` delivery sessions, oldest first:
  // a restarted receiver still answers a manager's STATUS for them.
  std::vector<ApplyRecord> latest_results(std::size_t sessions) const;
  // Installed version of a bundle name (0: none) and its digest.
  std::uint64_t installed_version(const std::string& name,
                                  protocol::Digest* digest = nullptr) const;

 private:
  std::unique_ptr<protocol::io::Database> db_;
};

}  // namespace fleetcast::receiver
