#pragma once
// The staged, journaled apply of a received bundle (paper step 7; issue "bundles and safe apply"):
//
//   seal + digest -> manifest -> policy + version -> safe extraction -> check -> backup ->
//   apply -> verify -> done          (any failure after backup: rollback, then done)
//
// Nothing of the bundle is decompressed or parsed before its seal verified against the trusted
// manager key. Every phase transition is committed to the journal before the phase runs, so a
// receiver killed at any moment resumes with recover(): an apply that stopped before its apply
// phase starts over (nothing was changed yet); one that stopped in apply or verify rolls back
// (the host may be half-changed); one that stopped in rollback rolls back again (scripts make
// rollback idempotent). A bundle name's version only grows: equal or older is never applied.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protocol/bundle/archive.hpp"
#include "protocol/control.hpp"
#include "protocol/log/log.hpp"
#include "receiver/apply/journal.hpp"
#include "receiver/apply/retention.hpp"
#include "receiver/apply/target_policy.hpp"

namespace fleetcast::receiver {

struct ApplyConfig {
  std::string host_name;
  std::vector<std::string> groups;
  protocol::PublicKey manager;
  std::filesystem::path state;     // apply.db, apply/<id>/ (work), backups/<name>/<version>/
  std::filesystem::path scripts;   // update-scripts: one executable per kind, lib/
  std::vector<std::string> kinds;  // bundle kinds this host accepts; empty: any
  std::vector<std::string> names;  // bundle names this host accepts; empty: any
  // Host facts for the scripts ([host] section of the receiver config): key -> value.
  std::vector<std::pair<std::string, std::string>> host_facts;
  protocol::bundle::Limits limits;
  TargetPolicy targets;       // where [file:] targets may point
  RetentionLimits retention;  // what finished applies leave behind
  // This host's key: opens bundles encrypted for it (protocol/bundle/crypt.hpp).
  std::optional<protocol::SecretKey> own_key;
};

struct ApplyJob {
  std::filesystem::path bundle;  // the verified-by-delivery file in the spool
  std::string file_name;
  protocol::Digest digest{};  // as announced (and verified by delivery)
  // The delivery (nullopt for a local apply): its session, the manager's reply endpoint (an
  // ACTIVATE leaves it out: the held apply's is used).
  std::optional<protocol::SessionId> session;
  std::optional<protocol::Endpoint> reply;
  protocol::ApplyMode mode = protocol::ApplyMode::now;  // now, dry-run or hold (check, keep)
  // An ACTIVATE of the bundle this session delivered with apply=hold: applied only when the
  // latest result of (digest, session) here is `held`, so at most once; otherwise that result
  // is reported again and nothing runs. The reply endpoint is the held apply's.
  bool activation = false;
  std::uint64_t announced_version = 0;  // 0: not announced (local apply)
  std::string announced_kind;           // "": not announced
};

struct ApplyOutcome {
  protocol::FinStatus status = protocol::FinStatus::failed;
  std::string message;  // the reason or the tail of the script output
  ApplyRecord record;
};

// Events (protocol/log: message IDs FC22xx).
using ApplyLog = std::function<void(const log::Event&)>;

class Applier {
 public:
  Applier(ApplyConfig config, ApplyLog log);

  // nullopt: an activation of something this host does not hold (nothing to report).
  std::optional<ApplyOutcome> apply(const ApplyJob& job);
  // Finishes or rolls back every apply the journal shows unfinished (call at start-up).
  std::vector<ApplyOutcome> recover();

  const Journal& journal() const { return *journal_; }

 private:
  struct Context;
  // An early end of an apply (a refusal, a failure): its outcome; nullopt goes on.
  using Stop = std::optional<ApplyOutcome>;
  // `bundle`: the staged copy of the bundle (<work>/bundle.fcb). The steps in order: open,
  // check_policy, stage_payload, then run_phases (or, resumed past the backup, roll_back).
  ApplyOutcome run(ApplyRecord rec, const ApplyJob* job, const protocol::io::InputFile& bundle);
  Stop open(ApplyRecord& rec, const protocol::io::InputFile& bundle, Context& ctx);
  Stop check_policy(const ApplyRecord& rec, const ApplyJob* job, Context& ctx, bool past_backup);
  Stop stage_payload(const ApplyRecord& rec, const protocol::io::InputFile& bundle,
                     const Context& ctx, bool past_backup);
  ApplyOutcome run_phases(const ApplyRecord& rec, const Context& ctx);
  ApplyOutcome finish(const ApplyRecord& rec, protocol::FinStatus status,
                      const std::string& message, bool installed = false);
  ApplyOutcome roll_back(const ApplyRecord& rec, const Context& ctx, const std::string& why);
  std::vector<std::string> environment(const ApplyRecord& rec, const Context& ctx,
                                       std::string_view phase) const;
  bool run_phase(const ApplyRecord& rec, const Context& ctx, Phase phase, std::string& tail);

  ApplyConfig config_;
  ApplyLog log_;
  std::unique_ptr<Journal> journal_;
};

// The last `max_bytes` of script output as one line ("; " between lines), for the FIN.
std::string output_tail(std::string_view output, std::size_t max_bytes);

}  // namespace fleetcast::receiver
