#include "sender/store/store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>

#include <nlohmann/json.hpp>

#include "protocol/io/clock.hpp"
#include "protocol/text.hpp"
#include "protocol/verify.hpp"

namespace fleetcast::sender {
namespace p = protocol;
namespace io = protocol::io;
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS hosts(
  name TEXT PRIMARY KEY, key TEXT NOT NULL, groups TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  session TEXT PRIMARY KEY, file_id INTEGER NOT NULL, file_name TEXT NOT NULL,
  bundle TEXT NOT NULL,
  version INTEGER NOT NULL, digest TEXT NOT NULL, apply TEXT NOT NULL,
  started_at INTEGER NOT NULL, ended_at INTEGER, success INTEGER);
CREATE TABLE IF NOT EXISTS session_hosts(
  session TEXT NOT NULL, host TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY(session, host));
CREATE TABLE IF NOT EXISTS receipts(
  id INTEGER PRIMARY KEY, session TEXT NOT NULL, host TEXT NOT NULL, verb TEXT NOT NULL,
  line TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE(session, host, line));
CREATE TABLE IF NOT EXISTS rollouts(
  id INTEGER PRIMARY KEY, session TEXT NOT NULL, waves TEXT NOT NULL, max_fail TEXT NOT NULL,
  argv TEXT NOT NULL, state TEXT NOT NULL, request TEXT NOT NULL DEFAULT '',
  start_at INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '', started_at INTEGER NOT NULL,
  ended_at INTEGER, plan TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS host_paths(
  host TEXT PRIMARY KEY, rate INTEGER NOT NULL, base INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_keys(
  host TEXT PRIMARY KEY, manager TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dhcp_pools(
  host TEXT NOT NULL, bundle TEXT NOT NULL, version INTEGER NOT NULL, pools TEXT NOT NULL,
  flags TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY(host, bundle));
CREATE TABLE IF NOT EXISTS waves(
  rollout INTEGER NOT NULL, wave INTEGER NOT NULL, hosts TEXT NOT NULL,
  started_at INTEGER NOT NULL, ended_at INTEGER, PRIMARY KEY(rollout, wave));
)sql";

// Stores made before the plan was stored (rollout/plan.hpp): the column is added; their
// rollouts resume with waves computed again from the command line.
constexpr const char* kAddPlan = "ALTER TABLE rollouts ADD COLUMN plan TEXT NOT NULL DEFAULT ''";

// The wall clock the wave runner compares the maintenance windows with (protocol/io/clock.hpp).
std::int64_t now() {
  return static_cast<std::int64_t>(io::wall_seconds());
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

// The line verified when it arrived; here only its fields are read.
void HostStatus::fold(const std::string& verb, const std::string& line, std::int64_t when) {
  HostStatus& h = *this;
  if (verb == "FIN") {
    auto parsed = p::parse_command(line);
    if (!parsed) return;
    const auto& f = std::get<p::Fin>(parsed->command);
    h.status = std::string(p::to_string(f.status));
    h.version = f.version;
    h.message = f.message;
    h.at = when;
    if (f.status == p::FinStatus::applied) h.installed = std::max(h.installed, f.version);
  } else if (verb == "DENY" && h.at == 0) {
    auto parsed = p::parse_command(line);
    h.status = "denied";
    if (parsed) h.message = std::get<p::Deny>(parsed->command).reason;
    h.at = when;
  } else if (verb == "COMPLETE" && (h.status == "no answer" || h.status == "registered")) {
    h.status = "completed";
    h.at = when;
  } else if (verb == "RECV" && h.status == "no answer") {
    h.status = "registered";
    h.at = when;
  }
}

Store::Store(const std::filesystem::path& state_dir, Access access)
    : path_(state_dir / "manager.db") {
  if (access == Access::read_only) {
    db_ = std::make_unique<io::Database>(path_, io::Database::ReadOnly{});
    return;
  }
  std::filesystem::create_directories(state_dir);
  db_ = std::make_unique<io::Database>(path_, io::Database::Journal::wal);
  db_->exec_setup(kSchema);
  if (!db_->compiles("SELECT plan FROM rollouts LIMIT 0")) db_->exec_setup(kAddPlan);
}

void Store::record_hosts(const std::vector<const Host*>& hosts) {
  io::Database::Transaction t(*db_);
  for (const Host* h : hosts) {
    db_->prepare(
           "INSERT INTO hosts(name, key, groups, updated_at) VALUES(?,?,?,?) ON CONFLICT(name) "
           "DO UPDATE SET key=excluded.key, groups=excluded.groups, updated_at=excluded.updated_at")
        .bind(1, h->name)
        .bind(2, p::text::hex(h->key.bytes))
        .bind(3, joined(h->groups))
        .bind(4, now())
        .run();
  }
  t.commit();
}

void Store::set_session_digest(p::SessionId session, const std::string& digest) {
  db_->prepare("UPDATE sessions SET digest = ? WHERE session = ?")
      .bind(1, digest)
      .bind(2, p::text::hex64(session.value))
      .run();
}

void Store::begin_session(const SessionRecord& s, const std::vector<const Host*>& hosts) {
  record_hosts(hosts);
  io::Database::Transaction t(*db_);
  const std::string id = p::text::hex64(s.session.value);
  // A resumed rollout records its session again: the first record stands.
  db_->prepare(
         "INSERT OR IGNORE INTO sessions(session, file_name, bundle, version, digest, apply, "
         "started_at, file_id) VALUES(?,?,?,?,?,?,?,?)")
      .bind(1, id)
      .bind(8, std::int64_t{s.file_id})
      .bind(2, s.file_name)
      .bind(3, s.bundle)
      .bind(4, static_cast<std::int64_t>(s.version))
      .bind(5, s.digest)
      .bind(6, p::to_string(s.apply))
      .bind(7, s.started_at)
      .run();
  for (const Host* h : hosts) {
    db_->prepare("INSERT OR IGNORE INTO session_hosts(session, host, key) VALUES(?,?,?)")
        .bind(1, id)
        .bind(2, h->name)
        .bind(3, p::text::hex(h->key.bytes))
        .run();
  }
  t.commit();
}

void Store::end_session(p::SessionId s, bool success) {
  db_->prepare("UPDATE sessions SET ended_at=?, success=? WHERE session=?")
      .bind(1, now())
      .bind(2, std::int64_t{success})
      .bind(3, p::text::hex64(s.value))
      .run();
}

std::map<std::string, HostPath> Store::host_paths() const {
  auto q = db_->prepare("SELECT host, rate, base, at FROM host_paths");
  std::map<std::string, HostPath> out;
  while (q.step()) {
    out[q.text(0)] = HostPath{static_cast<std::uint64_t>(std::max<std::int64_t>(q.integer(1), 0)),
                              static_cast<std::int32_t>(q.integer(2)), q.integer(3)};
  }
  return out;
}

void Store::record_host_paths(const std::map<std::string, HostPath>& paths) {
  io::Database::Transaction t(*db_);
  for (const auto& [host, path] : paths) {
    db_->prepare(
           "INSERT INTO host_paths(host, rate, base, at) VALUES(?,?,?,?) ON CONFLICT(host) DO "
           "UPDATE SET rate=excluded.rate, base=excluded.base, at=excluded.at")
        .bind(1, host)
        .bind(2, static_cast<std::int64_t>(path.rate))
        .bind(3, std::int64_t{path.base})
        .bind(4, path.at != 0 ? path.at : now())
        .run();
  }
  t.commit();
}

std::vector<std::string> Store::fleet_key_holders(p::KeyId manager) const {
  auto q = db_->prepare("SELECT host FROM fleet_keys WHERE manager = ? ORDER BY host");
  q.bind(1, p::text::hex64(manager.value));
  std::vector<std::string> out;
  while (q.step()) out.push_back(q.text(0));
  return out;
}

void Store::record_fleet_keys(p::KeyId manager, const std::map<std::string, bool>& holds) {
  io::Database::Transaction t(*db_);
  for (const auto& [host, held] : holds) {
    if (!held) {
      db_->prepare("DELETE FROM fleet_keys WHERE host = ?").bind(1, host).run();
      continue;
    }
    db_->prepare(
           "INSERT INTO fleet_keys(host, manager, at) VALUES(?,?,?) ON CONFLICT(host) DO "
           "UPDATE SET manager=excluded.manager, at=excluded.at")
        .bind(1, host)
        .bind(2, p::text::hex64(manager.value))
        .bind(3, now())
        .run();
  }
  t.commit();
}

void Store::record_receipt(p::SessionId s, const std::string& host, std::string_view verb,
                           std::string_view line) {
  db_->prepare("INSERT OR IGNORE INTO receipts(session, host, verb, line, at) VALUES(?,?,?,?,?)")
      .bind(1, p::text::hex64(s.value))
      .bind(2, host)
      .bind(3, verb)
      .bind(4, line)
      .bind(5, now())
      .run();
}

std::int64_t Store::begin_rollout(p::SessionId s, const RolloutPlan& plan,
                                  const std::vector<std::string>& argv) {
  db_->prepare(
         "INSERT INTO rollouts(session, waves, max_fail, argv, state, started_at, plan) "
         "VALUES(?,?,?,?,'running',?,?)")
      .bind(1, p::text::hex64(s.value))
      .bind(2, plan.waves_text)
      .bind(3, plan.max_fail.to_string())
      .bind(4, nlohmann::json(argv).dump())
      .bind(5, now())
      .bind(6, to_json(plan))
      .run();
  return db_->last_insert_id();
}

namespace {

constexpr const char* kRolloutRecord =
    "SELECT r.id, r.session, r.argv, se.file_id, r.plan FROM rollouts r JOIN sessions se "
    "ON se.session = r.session ";

std::vector<std::size_t> waves_of(io::Database& db, std::int64_t rollout) {
  auto w = db.prepare("SELECT wave FROM waves WHERE rollout = ? ORDER BY wave");
  w.bind(1, rollout);
  std::vector<std::size_t> out;
  while (w.step()) out.push_back(static_cast<std::size_t>(w.integer(0)));
  return out;
}

RolloutRecord read_rollout(io::Database& db, const io::Database::Statement& s) {
  RolloutRecord r;
  r.id = s.integer(0);
  if (!p::text::unhex64(s.text(1), r.session.value)) {
    throw io::SqliteError("rollout " + std::to_string(r.id) + ": bad session");
  }
  r.argv = nlohmann::json::parse(s.text(2)).get<std::vector<std::string>>();
  r.file_id = static_cast<std::uint16_t>(s.integer(3));
  r.plan = s.text(4);
  r.waves_started = waves_of(db, r.id);
  return r;
}

}  // namespace

std::optional<RolloutRecord> Store::unfinished_rollout() const {
  auto s = db_->prepare(std::string(kRolloutRecord) +
                        "WHERE r.state IN ('running', 'paused') ORDER BY r.id DESC LIMIT 1");
  if (!s.step()) return std::nullopt;
  return read_rollout(*db_, s);
}

std::vector<RolloutRecord> Store::running_rollouts() const {
  auto s = db_->prepare(std::string(kRolloutRecord) + "WHERE r.state = 'running' ORDER BY r.id");
  std::vector<RolloutRecord> out;
  while (s.step()) out.push_back(read_rollout(*db_, s));
  return out;
}

std::int64_t Store::schedule_rollout(const std::vector<std::string>& argv, std::int64_t start_at) {
  db_->prepare(
         "INSERT INTO rollouts(session, waves, max_fail, argv, state, started_at, start_at) "
         "VALUES('', '', '', ?, 'scheduled', ?, ?)")
      .bind(1, nlohmann::json(argv).dump())
      .bind(2, now())
      .bind(3, start_at)
      .run();
  return db_->last_insert_id();
}

std::optional<RolloutRecord> Store::due_rollout(std::int64_t at) const {
  auto s = db_->prepare(
      "SELECT id, argv FROM rollouts WHERE state = 'scheduled' AND start_at <= ? "
      "ORDER BY start_at, id LIMIT 1");
  s.bind(1, at);
  if (!s.step()) return std::nullopt;
  RolloutRecord r;
  r.id = s.integer(0);
  r.argv = nlohmann::json::parse(s.text(1)).get<std::vector<std::string>>();
  return r;
}

void Store::start_scheduled(std::int64_t rollout, p::SessionId s, const RolloutPlan& plan) {
  db_->prepare(
         "UPDATE rollouts SET session = ?, waves = ?, max_fail = ?, state = 'running', "
         "started_at = ?, plan = ? WHERE id = ?")
      .bind(1, p::text::hex64(s.value))
      .bind(2, plan.waves_text)
      .bind(3, plan.max_fail.to_string())
      .bind(4, now())
      .bind(5, to_json(plan))
      .bind(6, rollout)
      .run();
}

std::vector<std::size_t> Store::waves_started(std::int64_t rollout) const {
  return waves_of(*db_, rollout);
}

std::vector<Host> Store::session_hosts(p::SessionId s) const {
  auto q = db_->prepare(
      "SELECT sh.host, sh.key, h.groups FROM session_hosts sh LEFT JOIN hosts h ON h.name = "
      "sh.host WHERE sh.session = ? ORDER BY sh.host");
  q.bind(1, p::text::hex64(s.value));
  std::vector<Host> out;
  while (q.step()) {
    Host h{q.text(0), {}, q.null(2) ? std::vector<std::string>{} : p::text::split(q.text(2), ',')};
    if (!p::text::unhex(q.text(1), h.key.bytes)) continue;
    out.push_back(std::move(h));
  }
  return out;
}

std::map<std::string, LatestFin> Store::latest_fins(p::SessionId session) const {
  auto s = db_->prepare(
      "SELECT host, line FROM receipts WHERE session = ? AND verb = 'FIN' "
      "ORDER BY id");
  s.bind(1, p::text::hex64(session.value));
  std::map<std::string, LatestFin> out;
  while (s.step()) {
    auto parsed = p::parse_command(s.text(1));
    if (!parsed) continue;
    const auto& f = std::get<p::Fin>(parsed->command);
    out[s.text(0)] = LatestFin{f.status, f.message};
  }
  return out;
}

void Store::wave_started(std::int64_t rollout, std::size_t wave,
                         const std::vector<std::string>& hosts) {
  db_->prepare("INSERT OR REPLACE INTO waves(rollout, wave, hosts, started_at) VALUES(?,?,?,?)")
      .bind(1, rollout)
      .bind(2, static_cast<std::int64_t>(wave))
      .bind(3, joined(hosts))
      .bind(4, now())
      .run();
}

void Store::wave_ended(std::int64_t rollout, std::size_t wave) {
  db_->prepare("UPDATE waves SET ended_at=? WHERE rollout=? AND wave=?")
      .bind(1, now())
      .bind(2, rollout)
      .bind(3, static_cast<std::int64_t>(wave))
      .run();
}

bool Store::request(Request what) {
  auto s = db_->prepare("SELECT id FROM rollouts WHERE state = 'running' ORDER BY id DESC LIMIT 1");
  if (!s.step()) return false;
  db_->prepare("UPDATE rollouts SET request = ? WHERE id = ?")
      .bind(1, to_string(what))
      .bind(2, s.integer(0))
      .run();
  return true;
}

Request Store::requested(std::int64_t rollout) const {
  auto s = db_->prepare("SELECT request FROM rollouts WHERE id = ?");
  s.bind(1, rollout);
  if (!s.step()) return Request::none;
  return request_from(s.text(0)).value_or(Request::none);
}

void Store::set_running(std::int64_t rollout) {
  db_->prepare("UPDATE rollouts SET state = 'running', request = '' WHERE id = ?")
      .bind(1, rollout)
      .run();
}

std::vector<std::string> Store::rollouts() const {
  auto s = db_->prepare(
      "SELECT r.id, se.bundle, se.version, r.state, r.waves, "
      "(SELECT COUNT(*) FROM waves w WHERE w.rollout = r.id), r.request, r.reason "
      "FROM rollouts r LEFT JOIN sessions se ON se.session = r.session ORDER BY r.id DESC");
  std::vector<std::string> out;
  while (s.step()) {
    std::string line = "rollout " + std::to_string(s.integer(0)) + ": " + s.text(1) + " version " +
                       std::to_string(s.integer(2)) + ", " + s.text(3) + ", waves " + s.text(4) +
                       ", " + std::to_string(s.integer(5)) + " started";
    if (!s.text(6).empty()) line += ", " + s.text(6) + " requested";
    if (!s.text(7).empty()) line += ": " + s.text(7);
    out.push_back(line);
  }
  return out;
}

bool RolloutView::forced() const {
  return std::find(argv.begin(), argv.end(), "--force") != argv.end();
}

std::optional<RolloutView> Store::rollout_view(std::int64_t id) const {
  auto s = db_->prepare(
      "SELECT r.id, se.bundle, se.version, r.state, r.reason, r.request, r.waves, r.max_fail, "
      "r.started_at, r.ended_at, r.session, r.argv, r.plan FROM rollouts r LEFT JOIN sessions se "
      "ON se.session = r.session WHERE ?1 = 0 OR r.id = ?1 ORDER BY r.id DESC LIMIT 1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  RolloutView v;
  v.id = s.integer(0);
  v.bundle = s.null(1) ? "" : s.text(1);
  v.version = static_cast<std::uint64_t>(s.null(2) ? 0 : s.integer(2));
  v.state = s.text(3);
  v.reason = s.text(4);
  v.request = s.text(5);
  v.waves_text = s.text(6);
  v.max_fail = s.text(7);
  v.started_at = s.integer(8);
  v.ended_at = s.null(9) ? 0 : s.integer(9);
  const std::string session = s.text(10);
  v.argv = nlohmann::json::parse(s.text(11)).get<std::vector<std::string>>();
  v.plan = s.null(12) ? "" : s.text(12);
  auto w = db_->prepare(
      "SELECT wave, hosts, started_at, ended_at FROM waves WHERE rollout = ? ORDER BY wave");
  w.bind(1, v.id);
  while (w.step()) {
    v.waves.push_back({static_cast<std::size_t>(w.integer(0)), p::text::split(w.text(1), ','),
                       w.integer(2), w.null(3) ? 0 : w.integer(3)});
  }
  // Every host of the session with its newest reply in it (as `status` reads them).
  auto h = db_->prepare(
      "SELECT sh.host, r.verb, r.line, r.at FROM session_hosts sh LEFT JOIN receipts r "
      "ON r.session = sh.session AND r.host = sh.host WHERE sh.session = ? ORDER BY sh.host, r.id");
  h.bind(1, session);
  while (h.step()) {
    if (v.hosts.empty() || v.hosts.back().host != h.text(0)) {
      v.hosts.push_back(HostStatus{h.text(0), v.bundle, 0, "no answer", "", 0, 0});
    }
    if (h.null(1)) continue;
    v.hosts.back().fold(h.text(1), h.text(2), h.integer(3));
  }
  return v;
}

void Store::end_rollout(std::int64_t rollout, RolloutState state, const std::string& reason) {
  db_->prepare("UPDATE rollouts SET state=?, reason=?, ended_at=? WHERE id=?")
      .bind(1, to_string(state))
      .bind(2, reason)
      .bind(3, now())
      .bind(4, rollout)
      .run();
}

std::vector<StoredReceipt> Store::receipts() const {
  auto s = db_->prepare(
      "SELECT r.id, r.session, r.host, r.verb, r.line, sh.key, r.at FROM receipts r "
      "LEFT JOIN session_hosts sh ON sh.session = r.session AND sh.host = r.host ORDER BY r.id");
  std::vector<StoredReceipt> out;
  while (s.step()) {
    out.push_back(
        {s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.integer(6)});
  }
  return out;
}

std::vector<HostStatus> Store::status(const std::string& bundle, const std::string& host) const {
  // Every (host, bundle) a session targeted, with the newest receipt of that pair.
  auto s = db_->prepare(
      "SELECT sh.host, CASE WHEN se.bundle = '' THEN se.file_name ELSE se.bundle END AS b, "
      "r.verb, r.line, r.at FROM session_hosts sh JOIN sessions se ON se.session = sh.session "
      "LEFT JOIN receipts r ON r.session = sh.session AND r.host = sh.host "
      "WHERE (?1 = '' OR b = ?1) AND (?2 = '' OR sh.host = ?2) ORDER BY sh.host, b, r.id");
  s.bind(1, bundle).bind(2, host);
  std::map<std::pair<std::string, std::string>, HostStatus> rows;
  while (s.step()) {
    HostStatus& h = rows[{s.text(0), s.text(1)}];
    h.host = s.text(0);
    h.bundle = s.text(1);
    if (h.status.empty()) h.status = "no answer";
    if (!s.null(2)) h.fold(s.text(2), s.text(3), s.integer(4));
  }
  std::vector<HostStatus> out;
  for (auto& [k, v] : rows) out.push_back(std::move(v));
  return out;
}

std::map<std::string, Store::ReportedLeases> Store::reported_leases() const {
  // Newest first; bounded (a store of years of FINs is not read whole for this).
  auto s = db_->prepare(
      "SELECT host, line, at FROM receipts WHERE verb = 'FIN' AND line LIKE '%leases:%' "
      "ORDER BY id DESC LIMIT 20000");
  std::map<std::string, ReportedLeases> out;
  while (s.step()) {
    if (out.count(s.text(0))) continue;
    const auto parsed = p::parse_command(s.text(1));
    const auto* fin = parsed ? std::get_if<p::Fin>(&parsed->command) : nullptr;
    if (fin == nullptr || fin->message.find("leases: ") == std::string::npos) continue;
    out[s.text(0)] = {fin->message, s.integer(2)};
  }
  return out;
}

std::vector<Store::LatestSession> Store::latest_sessions(const std::string& bundle,
                                                         const std::string& host) const {
  auto s = db_->prepare(
      "SELECT sh.host, sh.key, se.session, se.file_name, "
      "CASE WHEN se.bundle = '' THEN se.file_name ELSE se.bundle END AS b "
      "FROM session_hosts sh JOIN sessions se ON se.session = sh.session "
      "WHERE (?1 = '' OR b = ?1) AND (?2 = '' OR sh.host = ?2) "
      "ORDER BY sh.host, b, se.started_at, se.rowid");
  s.bind(1, bundle).bind(2, host);
  // (host, bundle) -> (host name, key, session, file name) of its newest session
  std::map<std::pair<std::string, std::string>, std::array<std::string, 4>> newest;
  while (s.step()) newest[{s.text(0), s.text(4)}] = {s.text(0), s.text(1), s.text(2), s.text(3)};
  std::map<std::string, LatestSession> by_session;
  for (const auto& [k, row] : newest) {
    LatestSession& ls = by_session[row[2]];
    if (!p::text::unhex64(row[2], ls.session.value)) continue;
    ls.file_name = row[3];
    Host h;
    h.name = row[0];
    if (!p::text::unhex(row[1], h.key.bytes)) continue;
    ls.hosts.push_back(std::move(h));
  }
  std::vector<LatestSession> out;
  for (auto& [id, ls] : by_session) {
    if (!ls.hosts.empty()) out.push_back(std::move(ls));
  }
  return out;
}

bool verify_receipt(const StoredReceipt& r) {
  p::PublicKey key{};
  if (!p::text::unhex(r.host_key, key.bytes)) return false;
  auto key_of = [&](p::KeyId id) -> const p::PublicKey* {
    return id == p::key_id(key) ? &key : nullptr;
  };
  if (r.verb != "COMPLETE") return p::verified_command(r.line, key_of).has_value();
  std::vector<std::uint8_t> bytes(r.line.size() / 2);
  if (r.line.size() % 2 != 0 || !p::text::unhex(r.line, bytes)) return false;
  auto parsed = p::parse_data_packet(bytes);
  const auto* fb = parsed ? std::get_if<p::SignedFeedback>(&parsed.value()) : nullptr;
  return fb != nullptr && p::verified(*fb, key_of);
}

Receipts::Observer record_into(Store* store, p::SessionId s) {
  if (store == nullptr) return {};
  return [store, s](const HostReport& h, std::string_view verb, std::string_view text) {
    store->record_receipt(s, h.host->name, verb, text);
  };
}

}  // namespace fleetcast::sender
