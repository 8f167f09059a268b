#include "receiver/journal.hpp"

#include <sqlite3.h>

#include <ctime>
#include <memory>

namespace fleetcast::receiver {
namespace p = protocol;
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS applies(
  id INTEGER PRIMARY KEY,
  file_name TEXT NOT NULL, digest TEXT NOT NULL, session TEXT NOT NULL, reply TEXT NOT NULL,
  dry_run INTEGER NOT NULL,
  name TEXT NOT NULL DEFAULT '', version INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL DEFAULT '',
  phase TEXT NOT NULL, failed_phase TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
  started_at INTEGER NOT NULL, finished_at INTEGER, mode TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS installed(
  name TEXT PRIMARY KEY, version INTEGER NOT NULL, digest TEXT NOT NULL,
  apply_id INTEGER NOT NULL, installed_at INTEGER NOT NULL);
)sql";

// Databases made before the apply mode was recorded (dry_run said it): the column is added.
constexpr const char* kAddMode = "ALTER TABLE applies ADD COLUMN mode TEXT NOT NULL DEFAULT ''";

constexpr p::ApplyMode kModes[] = {p::ApplyMode::now, p::ApplyMode::dry_run, p::ApplyMode::hold};

p::ApplyMode mode_from(std::string_view s, bool dry_run) {
  for (p::ApplyMode m : kModes) {
    if (p::to_string(m) == s) return m;
  }
  return dry_run ? p::ApplyMode::dry_run : p::ApplyMode::now;  // a row from before `mode`
}

constexpr Phase kPhases[] = {Phase::received, Phase::check,    Phase::backup, Phase::apply,
                             Phase::verify,   Phase::rollback, Phase::done};

Phase phase_from(std::string_view s) {
  for (Phase p : kPhases) {
    if (to_string(p) == s) return p;
  }
  throw JournalError("journal: unknown phase '" + std::string(s) + "'");
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw JournalError("journal: " + what + ": " + sqlite3_errmsg(db));
}

Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) fail(db, sql);
  return Stmt(s);
}

void bind(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void bind(sqlite3_stmt* s, int i, std::int64_t v) {
  sqlite3_bind_int64(s, i, v);
}

void step_done(sqlite3* db, sqlite3_stmt* s) {
  if (sqlite3_step(s) != SQLITE_DONE) fail(db, "write");
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

constexpr const char* kSelect =
    "SELECT id, file_name, digest, session, reply, dry_run, name, version, kind, phase, status, "
    "message, failed_phase, mode FROM applies ";

ApplyRecord read_row(sqlite3_stmt* s) {
  ApplyRecord r;
  r.id = sqlite3_column_int64(s, 0);
  r.file_name = column_text(s, 1);
  r.digest = column_text(s, 2);
  r.session = column_text(s, 3);
  r.reply = column_text(s, 4);
  r.mode = mode_from(column_text(s, 13), sqlite3_column_int(s, 5) != 0);
  r.name = column_text(s, 6);
  r.version = static_cast<std::uint64_t>(sqlite3_column_int64(s, 7));
  r.kind = column_text(s, 8);
  r.phase = phase_from(column_text(s, 9));
  r.status = column_text(s, 10);
  r.message = column_text(s, 11);
  r.failed_phase = column_text(s, 12);
  return r;
}

std::int64_t now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace

std::string_view to_string(Phase p) {
  switch (p) {
    case Phase::received:
      return "received";
    case Phase::check:
      return "check";
    case Phase::backup:
      return "backup";
    case Phase::apply:
      return "apply";
    case Phase::verify:
      return "verify";
    case Phase::rollback:
      return "rollback";
    case Phase::done:
      return "done";
  }
  return "?";
}

Journal::Journal(const std::filesystem::path& db) {
  if (sqlite3_open_v2(db.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw JournalError("journal: " + db.string() + ": " + why);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // FULL: a committed transition survives power loss, not only a process crash.
    exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;");
    exec(kSchema);
    if (sqlite3_exec(db_, "SELECT mode FROM applies LIMIT 0", nullptr, nullptr, nullptr) !=
        SQLITE_OK) {
      exec(kAddMode);
    }
  } catch (const JournalError& e) {
    // A damaged database: no destructor will run, so close it here.
    sqlite3_close(db_);
    db_ = nullptr;
    throw JournalError(std::string(e.what()) + " (" + db.string() + ")");
  }
}

Journal::~Journal() {
  sqlite3_close(db_);
}

void Journal::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "?";
    sqlite3_free(err);
    throw JournalError(std::string("journal: ") + why);
  }
}

std::int64_t Journal::begin(const ApplyRecord& r) {
  Stmt s = prepare(db_,
                   "INSERT INTO applies(file_name, digest, session, reply, dry_run, phase, "
                   "started_at, mode) VALUES(?,?,?,?,?,'received',?,?)");
  bind(s.get(), 1, r.file_name);
  bind(s.get(), 2, r.digest);
  bind(s.get(), 3, r.session);
  bind(s.get(), 4, r.reply);
  bind(s.get(), 5, std::int64_t{r.mode == p::ApplyMode::dry_run});
  bind(s.get(), 6, now());
  bind(s.get(), 7, std::string(p::to_string(r.mode)));
  step_done(db_, s.get());
  return sqlite3_last_insert_rowid(db_);
}

void Journal::set_bundle(std::int64_t id, const std::string& name, std::uint64_t version,
                         const std::string& kind) {
  Stmt s = prepare(db_, "UPDATE applies SET name=?, version=?, kind=? WHERE id=?");
  bind(s.get(), 1, name);
  bind(s.get(), 2, static_cast<std::int64_t>(version));
  bind(s.get(), 3, kind);
  bind(s.get(), 4, id);
  step_done(db_, s.get());
}

void Journal::set_phase(std::int64_t id, Phase phase, const std::string& failed_phase) {
  Stmt s = prepare(db_,
                   "UPDATE applies SET phase=?, failed_phase=CASE WHEN ?='' THEN failed_phase "
                   "ELSE ? END WHERE id=?");
  bind(s.get(), 1, std::string(to_string(phase)));
  bind(s.get(), 2, failed_phase);
  bind(s.get(), 3, failed_phase);
  bind(s.get(), 4, id);
  step_done(db_, s.get());
}

void Journal::finish(std::int64_t id, const std::string& status, const std::string& message,
                     bool installed) {
  exec("BEGIN IMMEDIATE");
  try {
    Stmt s = prepare(db_,
                     "UPDATE applies SET phase='done', status=?, message=?, finished_at=? "
                     "WHERE id=?");
    bind(s.get(), 1, status);
    bind(s.get(), 2, message);
    bind(s.get(), 3, now());
    bind(s.get(), 4, id);
    step_done(db_, s.get());
    if (installed) {
      Stmt i = prepare(db_,
                       "INSERT INTO installed(name, version, digest, apply_id, installed_at) "
                       "SELECT name, version, digest, id, ? FROM applies WHERE id=? "
                       "ON CONFLICT(name) DO UPDATE SET version=excluded.version, "
                       "digest=excluded.digest, apply_id=excluded.apply_id, "
                       "installed_at=excluded.installed_at");
      bind(i.get(), 1, now());
      bind(i.get(), 2, id);
      step_done(db_, i.get());
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::optional<ApplyRecord> Journal::get(std::int64_t id) const {
  Stmt s = prepare(db_, (std::string(kSelect) + "WHERE id=?").c_str());
  bind(s.get(), 1, id);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return read_row(s.get());
}

std::vector<ApplyRecord> Journal::unfinished() const {
  Stmt s = prepare(db_, (std::string(kSelect) + "WHERE phase != 'done' ORDER BY id").c_str());
  std::vector<ApplyRecord> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(read_row(s.get()));
  return out;
}

std::optional<ApplyRecord> Journal::finished_for(const std::string& digest,
                                                 const std::string& session) const {
  Stmt s = prepare(db_, (std::string(kSelect) +
                         "WHERE digest=? AND session=? AND phase='done' ORDER BY id DESC LIMIT 1")
                            .c_str());
  bind(s.get(), 1, digest);
  bind(s.get(), 2, session);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return read_row(s.get());
}

std::vector<std::string> Journal::finished_file_names() const {
  Stmt s = prepare(db_,
                   "SELECT file_name FROM applies a GROUP BY file_name "
                   "HAVING SUM(phase != 'done') = 0 AND (SELECT status FROM applies b WHERE "
                   "b.file_name = a.file_name ORDER BY id DESC LIMIT 1) != 'held' "
                   "ORDER BY MAX(id) DESC");
  std::vector<std::string> out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.push_back(column_text(s.get(), 0));
  return out;
}

std::uint64_t Journal::installed_version(const std::string& name, std::string* digest) const {
  Stmt s = prepare(db_, "SELECT version, digest FROM installed WHERE name=?");
  bind(s.get(), 1, name);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return 0;
  if (digest) *digest = column_text(s.get(), 1);
  return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
}

}  // namespace fleetcast::receiver
