#include "receiver/apply/journal.hpp"

#include <ctime>

#include "protocol/io/clock.hpp"
#include "protocol/text.hpp"

namespace fleetcast::receiver {
namespace p = protocol;
namespace io = protocol::io;
namespace {

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

constexpr const char* kSelect =
    "SELECT id, file_name, digest, session, reply, dry_run, name, version, kind, phase, status, "
    "message, failed_phase, mode FROM applies ";

// The journal's text forms: hex digest and session ("" for none), the reply endpoint as text.
std::string session_text(const std::optional<p::SessionId>& s) {
  return s ? p::text::hex64(s->value) : std::string();
}

ApplyRecord read_row(const io::Database::Statement& s) {
  ApplyRecord r;
  r.id = s.integer(0);
  r.file_name = s.text(1);
  if (!p::text::unhex(s.text(2), r.digest)) {
    throw JournalError("journal: apply " + std::to_string(r.id) + ": bad digest");
  }
  if (p::SessionId id; !s.text(3).empty() && p::text::unhex64(s.text(3), id.value)) {
    r.session = id;
  }
  if (auto reply = p::text::parse_endpoint(s.text(4), "reply"); reply && !s.text(4).empty()) {
    r.reply = reply.value();
  }
  r.mode = mode_from(s.text(13), s.integer(5) != 0);
  r.name = s.text(6);
  r.version = static_cast<std::uint64_t>(s.integer(7));
  r.kind = s.text(8);
  r.phase = phase_from(s.text(9));
  r.status = p::fin_status_from(s.text(10));
  r.message = s.text(11);
  r.failed_phase = s.text(12);
  return r;
}

std::int64_t now() {
  return static_cast<std::int64_t>(p::io::wall_seconds());
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
  try {
    db_ = std::make_unique<io::Database>(db, io::Database::Journal::rollback);
    db_->exec_setup(kSchema);
    if (!db_->compiles("SELECT mode FROM applies LIMIT 0")) db_->exec_setup(kAddMode);
  } catch (const io::SqliteError& e) {
    throw JournalError(std::string("journal: ") + e.what());
  }
}

Journal::~Journal() = default;

std::int64_t Journal::begin(const ApplyRecord& r) {
  db_->prepare(
         "INSERT INTO applies(file_name, digest, session, reply, dry_run, phase, started_at, "
         "mode) VALUES(?,?,?,?,?,'received',?,?)")
      .bind(1, r.file_name)
      .bind(2, p::text::hex(r.digest))
      .bind(3, session_text(r.session))
      .bind(4, r.reply ? p::text::format_endpoint(*r.reply) : std::string())
      .bind(5, std::int64_t{r.mode == p::ApplyMode::dry_run})
      .bind(6, now())
      .bind(7, p::to_string(r.mode))
      .run();
  return db_->last_insert_id();
}

void Journal::set_bundle(std::int64_t id, const std::string& name, std::uint64_t version,
                         const std::string& kind) {
  db_->prepare("UPDATE applies SET name=?, version=?, kind=? WHERE id=?")
      .bind(1, name)
      .bind(2, static_cast<std::int64_t>(version))
      .bind(3, kind)
      .bind(4, id)
      .run();
}

void Journal::set_phase(std::int64_t id, Phase phase, const std::string& failed_phase) {
  db_->prepare(
         "UPDATE applies SET phase=?, failed_phase=CASE WHEN ?='' THEN failed_phase ELSE ? END "
         "WHERE id=?")
      .bind(1, to_string(phase))
      .bind(2, failed_phase)
      .bind(3, failed_phase)
      .bind(4, id)
      .run();
}

void Journal::finish(std::int64_t id, p::FinStatus status, const std::string& message,
                     bool installed) {
  io::Database::Transaction t(*db_);
  db_->prepare("UPDATE applies SET phase='done', status=?, message=?, finished_at=? WHERE id=?")
      .bind(1, p::to_string(status))
      .bind(2, message)
      .bind(3, now())
      .bind(4, id)
      .run();
  if (installed) {
    db_->prepare(
           "INSERT INTO installed(name, version, digest, apply_id, installed_at) "
           "SELECT name, version, digest, id, ? FROM applies WHERE id=? "
           "ON CONFLICT(name) DO UPDATE SET version=excluded.version, digest=excluded.digest, "
           "apply_id=excluded.apply_id, installed_at=excluded.installed_at")
        .bind(1, now())
        .bind(2, id)
        .run();
  }
  t.commit();
}

std::optional<ApplyRecord> Journal::get(std::int64_t id) const {
  auto s = db_->prepare(std::string(kSelect) + "WHERE id=?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<ApplyRecord> Journal::unfinished() const {
  auto s = db_->prepare(std::string(kSelect) + "WHERE phase != 'done' ORDER BY id");
  std::vector<ApplyRecord> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::optional<ApplyRecord> Journal::finished_for(const p::Digest& digest,
                                                 p::SessionId session) const {
  auto s = db_->prepare(std::string(kSelect) +
                        "WHERE digest=? AND session=? AND phase='done' ORDER BY id DESC LIMIT 1");
  s.bind(1, p::text::hex(digest)).bind(2, session_text(session));
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<std::string> Journal::finished_file_names() const {
  auto s = db_->prepare(
      "SELECT file_name FROM applies a GROUP BY file_name "
      "HAVING SUM(phase != 'done') = 0 AND (SELECT status FROM applies b WHERE "
      "b.file_name = a.file_name ORDER BY id DESC LIMIT 1) != 'held' "
      "ORDER BY MAX(id) DESC");
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::vector<ApplyRecord> Journal::latest_results(std::size_t sessions) const {
  auto s = db_->prepare(std::string(kSelect) +
                        "WHERE id IN (SELECT MAX(id) FROM applies WHERE session != '' AND "
                        "phase = 'done' GROUP BY session ORDER BY MAX(id) DESC LIMIT ?) "
                        "ORDER BY id");
  s.bind(1, static_cast<std::int64_t>(sessions));
  std::vector<ApplyRecord> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::uint64_t Journal::installed_version(const std::string& name, p::Digest* digest) const {
  auto s = db_->prepare("SELECT version, digest FROM installed WHERE name=?");
  s.bind(1, name);
  if (!s.step()) return 0;
  if (digest && !p::text::unhex(s.text(1), *digest)) *digest = p::Digest{};
  return static_cast<std::uint64_t>(s.integer(0));
}

}  // namespace fleetcast::receiver
