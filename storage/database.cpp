#include "storage/database.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/schema.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace orchd::storage {

namespace {

[[noreturn]] void raise(sqlite3* db, int rc, std::string_view what) {
  std::string msg{what};
  msg += ": ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw sql_error(rc, msg);
}

} // namespace

// -- statement --------------------------------------------------------------

statement::statement(sqlite3* db, const char* sql)
    : db_(db)
    , sql_(sql) {
  auto rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_,
                               nullptr);
  if (rc != SQLITE_OK)
    raise(db, rc, std::string{"prepare `"} + sql + "`");
}

statement::~statement() {
  sqlite3_finalize(stmt_);
}

namespace {

void check_bind(sqlite3* db, int rc, const char* sql) {
  if (rc != SQLITE_OK)
    raise(db, rc, std::string{"bind `"} + sql + "`");
}

} // namespace

void statement::bind(int idx, int64_t value) {
  check_bind(db_, sqlite3_bind_int64(stmt_, idx, value), sql_);
}

void statement::bind(int idx, double value) {
  check_bind(db_, sqlite3_bind_double(stmt_, idx, value), sql_);
}

void statement::bind(int idx, std::string_view value) {
  check_bind(db_,
             sqlite3_bind_text(stmt_, idx, value.data(),
                               static_cast<int>(value.size()),
                               SQLITE_TRANSIENT),
             sql_);
}

void statement::bind(int idx, const caf::optional<int64_t>& value) {
  if (value)
    bind(idx, *value);
  else
    bind_null(idx);
}

void statement::bind(int idx, const caf::optional<std::string>& value) {
  if (value)
    bind(idx, std::string_view{*value});
  else
    bind_null(idx);
}

void statement::bind_null(int idx) {
  check_bind(db_, sqlite3_bind_null(stmt_, idx), sql_);
}

void statement::bind_text_or_null(int idx, std::string_view value) {
  if (value.empty())
    bind_null(idx);
  else
    bind(idx, value);
}

bool statement::step() {
  auto rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW)
    return true;
  if (rc == SQLITE_DONE)
    return false;
  raise(db_, rc, std::string{"step `"} + sql_ + "`");
}

int64_t statement::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

double statement::real(int col) const {
  return sqlite3_column_double(stmt_, col);
}

std::string statement::text(int col) const {
  auto p = sqlite3_column_text(stmt_, col);
  if (p == nullptr)
    return {};
  auto n = sqlite3_column_bytes(stmt_, col);
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

caf::optional<int64_t> statement::opt_int64(int col) const {
  if (is_null(col))
    return caf::none;
  return int64(col);
}

caf::optional<double> statement::opt_real(int col) const {
  if (is_null(col))
    return caf::none;
  return real(col);
}

bool statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

void statement::reset() noexcept {
  // Errors of the last step were already reported by step().
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// -- database ---------------------------------------------------------------

database::database(sqlite3* db, std::string path)
    : db_(db)
    , path_(std::move(path)) {}

database::~database() {
  statements_.clear();
  if (db_ != nullptr && sqlite3_close(db_) != SQLITE_OK)
    log::error("orchd.storage: closing ", path_,
               " failed: ", sqlite3_errmsg(db_));
}

void database::exec(const char* sql) {
  char* msg = nullptr;
  auto rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    std::string text = std::string{"`"} + sql +
                       "`: " + (msg != nullptr ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    throw sql_error(rc, text);
  }
}

query database::prepare(const char* sql) {
  auto i = statements_.find(sql);
  if (i == statements_.end())
    i = statements_.emplace(sql, std::make_unique<statement>(db_, sql)).first;
  return query{*i->second};
}

int64_t database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int64_t database::changes() const {
  return sqlite3_changes(db_);
}

bool database::in_transaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

int64_t database::pragma_int(const char* pragma) {
  std::string sql = std::string{"PRAGMA "} + pragma;
  sqlite3_stmt* stmt = nullptr;
  auto rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK)
    raise(db_, rc, sql);
  int64_t result = 0;
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW)
    result = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    raise(db_, rc, sql);
  return result;
}

namespace {

// Reads every row of `PRAGMA quick_check`; "ok" alone means healthy. Reads
// only, so a corrupt file is left exactly as it was.
std::string quick_check(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  auto rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &stmt, nullptr);
  if (rc != SQLITE_OK)
    return sqlite3_errmsg(db);
  std::string problems;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    std::string line = p != nullptr ? p : "";
    if (line != "ok") {
      if (!problems.empty())
        problems += "; ";
      problems += line;
    }
  }
  if (rc != SQLITE_DONE && problems.empty())
    problems = sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  return problems;
}

const char* synchronous_pragma(const std::string& mode) {
  if (mode == "off")
    return "PRAGMA synchronous=OFF";
  if (mode == "normal")
    return "PRAGMA synchronous=NORMAL";
  if (mode == "extra")
    return "PRAGMA synchronous=EXTRA";
  return "PRAGMA synchronous=FULL";
}

} // namespace

caf::expected<std::unique_ptr<database>>
database::open(const open_options& opts) {
  auto unusable = [&](const std::string& why) {
    return caf::make_error(ec::storage_unusable, opts.path + ": " + why);
  };
  std::error_code fs_err;
  auto parent = std::filesystem::path{opts.path}.parent_path();
  if (!parent.empty())
    std::filesystem::create_directories(parent, fs_err);
  if (fs_err)
    return unusable("cannot create folder " + parent.string() + ": " +
                    fs_err.message());
  sqlite3* raw = nullptr;
  auto rc = sqlite3_open_v2(opts.path.c_str(), &raw,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                SQLITE_OPEN_NOMUTEX,
                            nullptr);
  if (rc != SQLITE_OK) {
    std::string why = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return unusable("cannot open: " + why);
  }
  std::unique_ptr<database> db{new database(raw, opts.path)};
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(opts.busy_timeout_ms));
  if (auto problems = quick_check(raw); !problems.empty())
    return unusable(
        "refusing a damaged or foreign file (quick_check: " + problems + ")");
  try {
    // Refuse a newer schema before anything changes the file.
    if (auto err = schema::check_version(*db))
      return err;
    db->exec("PRAGMA journal_mode=WAL");
    db->exec(synchronous_pragma(opts.synchronous));
    db->exec("PRAGMA foreign_keys=ON");
    if (opts.migrate)
      if (auto err = schema::migrate(*db))
        return err;
  } catch (const sql_error& e) {
    return unusable(e.what());
  }
  return db;
}

} // namespace orchd::storage
