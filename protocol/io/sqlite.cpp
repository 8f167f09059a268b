#include "protocol/io/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace fleetcast::protocol::io {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// A store holds what hosts reported (FIN text, receipts): created 0600 (SQLite gives its journal
// and WAL files the same mode), tightened to 0600 when this user owns a looser one, refused when
// another non-root user owns it (it could swap the content under the manager).
//
// An existing file is looked at by path, never opened here: closing any descriptor of a file
// drops every POSIX lock this process holds on it, those of the other connections to it
// included (a web view's reader beside the manager's writer). A manager whose reader lost its
// shared lock saw the last writer to close delete the WAL under the reader, then "disk I/O
// error" on its next open.
void own_private(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    ::close(fd);  // new: no connection holds it yet
    return;
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;  // sqlite3_open_v2 says
  if (st.st_uid != ::geteuid() && st.st_uid != 0 && ::geteuid() != 0) {
    throw SqliteError(path.string() + ": owned by uid " + std::to_string(st.st_uid) +
                      ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  if (st.st_uid == ::geteuid() && (st.st_mode & 077) != 0) ::chmod(path.c_str(), 0600);
}

}  // namespace

Database::Database(const std::filesystem::path& path, Journal journal) : path_(path.string()) {
  own_private(path);
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw SqliteError(path_ + ": " + why);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // FULL: a committed transaction survives power loss, not only a process crash.
    exec_setup(journal == Journal::wal ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                       : "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;");
  } catch (const SqliteError&) {
    // A damaged database: no destructor will run, so close it here.
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Database::Database(const std::filesystem::path& path, ReadOnly) : path_(path.string()) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw SqliteError(path_ + ": " + why);
  }
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    exec("PRAGMA query_only=1;");
  } catch (const SqliteError&) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Database::~Database() {
  sqlite3_close(db_);
}

void Database::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "?";
    sqlite3_free(err);
    throw SqliteError(path_ + ": " + why);
  }
}

void Database::exec_setup(const char* sql) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (;;) {
    try {
      exec(sql);
      return;
    } catch (const SqliteError&) {
      const int code = sqlite3_errcode(db_) & 0xff;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool Database::compiles(const char* sql) const {
  sqlite3_stmt* s = nullptr;
  const bool ok = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) == SQLITE_OK;
  sqlite3_finalize(s);
  return ok;
}

Database::Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
    throw SqliteError(path_ + ": " + std::string(sql) + ": " + sqlite3_errmsg(db_));
  }
  return Statement(db_, s, std::string(sql));
}

std::int64_t Database::last_insert_id() const {
  return sqlite3_last_insert_rowid(db_);
}

void Database::Statement::Finalize::operator()(sqlite3_stmt* s) const {
  sqlite3_finalize(s);
}

Database::Statement::Statement(sqlite3* db, sqlite3_stmt* s, std::string sql)
    : db_(db), stmt_(s), sql_(std::move(sql)) {}

Database::Statement& Database::Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()),
                    SQLITE_TRANSIENT);
  return *this;
}

Database::Statement& Database::Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_.get(), index, value);
  return *this;
}

bool Database::Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SqliteError(sql_ + ": " + sqlite3_errmsg(db_) + " (" +
                    std::to_string(sqlite3_extended_errcode(db_)) + ")");
}

void Database::Statement::run() {
  while (step()) {
  }
}

std::string Database::Statement::text(int column) const {
  const auto* t = sqlite3_column_text(stmt_.get(), column);
  return t ? reinterpret_cast<const char*>(t) : "";
}

std::int64_t Database::Statement::integer(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

bool Database::Statement::null(int column) const {
  return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

Database::Transaction::Transaction(Database& db) : db_(db) {
  db_.exec("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Database::Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace fleetcast::protocol::io
