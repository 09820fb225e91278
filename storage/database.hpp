// A thin RAII wrapper over one SQLite connection and its prepared
// statements. Only storage/ uses it; sqlite3.h stays in the .cpp.
#pragma once

#include <caf/expected.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace orchd::storage {

/// A failed SQLite call: the statement or pragma and SQLite's message.
/// Thrown inside storage/ only; the storage actor turns it into an error.
class sql_error : public std::runtime_error {
public:
  sql_error(int code, const std::string& what)
      : std::runtime_error(what)
      , code_(code) {}

  /// SQLite's (extended) result code.
  int code() const noexcept { return code_; }

private:
  int code_;
};

/// One prepared statement, reused across calls: bind by 1-based index,
/// step, read columns. Reset and cleared by the `query` guard below.
class statement {
public:
  statement(sqlite3* db, const char* sql);
  ~statement();
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  void bind(int idx, int64_t value);
  void bind(int idx, double value);
  void bind(int idx, std::string_view value);
  void bind(int idx, const caf::optional<int64_t>& value);
  void bind(int idx, const caf::optional<std::string>& value);
  void bind_null(int idx);
  /// Binds "" as NULL: the legacy schema keeps absent text as NULL.
  void bind_text_or_null(int idx, std::string_view value);

  /// Steps once: true for a row, false when done; throws on error.
  bool step();

  int64_t int64(int col) const;
  double real(int col) const;
  /// NULL reads as "".
  std::string text(int col) const;
  caf::optional<int64_t> opt_int64(int col) const;
  caf::optional<double> opt_real(int col) const;
  bool is_null(int col) const;

  void reset() noexcept;

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  const char* sql_;
};

/// Resets a statement when a use of it ends, so the next use starts fresh.
class query {
public:
  explicit query(statement& stmt)
      : stmt_(stmt) {}
  ~query() { stmt_.reset(); }
  query(const query&) = delete;
  query& operator=(const query&) = delete;

  statement* operator->() { return &stmt_; }

  statement& operator*() { return stmt_; }

private:
  statement& stmt_;
};

/// How to open the database file.
struct open_options {
  std::string path;
  /// off, normal, full or extra (PRAGMA synchronous).
  std::string synchronous = "full";
  int64_t busy_timeout_ms = 5000;
  /// Bring the schema up to date (off only to inspect a file as it is).
  bool migrate = true;
};

/// The one connection. Owned by the storage actor; single-threaded.
class database {
public:
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Opens (creating when absent) and checks the file: `quick_check` before
  /// anything is written, then WAL, synchronous, foreign keys and the
  /// schema migrations. A corrupt or foreign file is refused untouched.
  static caf::expected<std::unique_ptr<database>>
  open(const open_options& opts);

  /// Runs one or more statements without results; throws on error.
  void exec(const char* sql);

  /// The cached prepared statement for `sql`, which must be a string
  /// literal (its address is the cache key).
  query prepare(const char* sql);

  int64_t last_insert_rowid() const;
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  /// True while a transaction is open (false after SQLite rolled one back
  /// on its own, as it may on SQLITE_FULL or SQLITE_IOERR).
  bool in_transaction() const;
  /// An int read from `PRAGMA name`.
  int64_t pragma_int(const char* pragma);

  /// The raw handle, for tests that inject faults (commit hooks).
  sqlite3* handle() const { return db_; }

  const std::string& path() const { return path_; }

private:
  database(sqlite3* db, std::string path);

  sqlite3* db_;
  std::string path_;
  std::unordered_map<const char*, std::unique_ptr<statement>> statements_;
};

} // namespace orchd::storage
