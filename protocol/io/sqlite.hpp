#pragma once
// The one wrapper around SQLite, shared by the receiver's apply journal and the manager's
// receipt store: a database opened with synchronous=FULL (a committed row survives power loss,
// not only a crash), prepared statements that finalize themselves, and a transaction that rolls
// back unless committed. Failures throw SqliteError naming the statement and SQLite's message.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace fleetcast::protocol::io {

class SqliteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Database {
 public:
  enum class Journal { rollback, wal };
  // Opens or creates `path`. A file that is not a database (or is damaged) throws.
  Database(const std::filesystem::path& path, Journal journal);
  // Opens an existing `path` for reading only (SQLITE_OPEN_READONLY and query_only: a write
  // through it throws). The journal mode is the writer's; a missing file throws.
  struct ReadOnly {};
  Database(const std::filesystem::path& path, ReadOnly);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  class Statement {
   public:
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::int64_t value);
    // Next row: true while there is one.
    bool step();
    // Runs a statement that returns no rows.
    void run();
    std::string text(int column) const;
    std::int64_t integer(int column) const;
    bool null(int column) const;

   private:
    friend class Database;
    Statement(sqlite3* db, sqlite3_stmt* s, std::string sql);
    struct Finalize {
      void operator()(sqlite3_stmt* s) const;
    };
    sqlite3* db_;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
    std::string sql_;
  };

  Statement prepare(std::string_view sql);
  void exec(const char* sql);
  // exec for opening and schema set-up: retried for up to the busy timeout while another
  // process holds the lock. SQLite does not call its busy handler for every lock taken while a
  // new database is set up (journal mode, first schema): two processes opening a new
  // manager.db at once failed "database is locked" at once in 2 of 180 tries.
  void exec_setup(const char* sql);
  std::int64_t last_insert_id() const;
  // True when `sql` compiles (e.g. a column exists): for adding columns to old databases.
  bool compiles(const char* sql) const;

  // BEGIN IMMEDIATE now; ROLLBACK when destroyed without commit().
  class Transaction {
   public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

   private:
    Database& db_;
    bool done_ = false;
  };

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace fleetcast::protocol::io
