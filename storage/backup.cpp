#include "storage/backup.hpp"

#include "actors/core/error.hpp"
#include "storage/database.hpp"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>

namespace orchd::storage {

namespace {

caf::error io_error(const std::string& what, sqlite3* db) {
  return caf::make_error(ec::io_failed,
                         what + ": " + (db ? sqlite3_errmsg(db) : "no memory"));
}

std::string partial_of(const std::string& path) {
  return path + ".partial";
}

} // namespace

caf::expected<std::unique_ptr<online_backup>>
online_backup::start(database& source, const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p{path};
  if (path.empty() || !p.is_absolute())
    return caf::make_error(ec::invalid_argument,
                           "the backup's path must be absolute: " + path);
  std::error_code err;
  if (!fs::is_directory(p.parent_path(), err))
    return caf::make_error(ec::invalid_argument,
                           "no such folder: " + p.parent_path().string());
  if (fs::exists(p, err) || fs::exists(partial_of(path), err))
    return caf::make_error(
        ec::conflict, "the file exists (a backup never overwrites): " + path);
  sqlite3* dest = nullptr;
  if (sqlite3_open_v2(partial_of(path).c_str(), &dest,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    auto e = io_error("cannot create " + partial_of(path), dest);
    sqlite3_close(dest);
    fs::remove(partial_of(path), err);
    return e;
  }
  auto* job = sqlite3_backup_init(dest, "main", source.handle(), "main");
  if (!job) {
    auto e = io_error("cannot start the backup", dest);
    sqlite3_close(dest);
    fs::remove(partial_of(path), err);
    return e;
  }
  return std::unique_ptr<online_backup>{new online_backup(path, dest, job)};
}

online_backup::online_backup(std::string path, sqlite3* dest,
                             sqlite3_backup* job)
    : path_(std::move(path))
    , dest_(dest)
    , job_(job) {}

online_backup::~online_backup() {
  if (job_)
    sqlite3_backup_finish(job_);
  if (dest_)
    sqlite3_close(dest_);
  if (!done_) {
    std::error_code err;
    std::filesystem::remove(partial_of(path_), err);
  }
}

caf::expected<bool> online_backup::step(int pages) {
  auto rc = sqlite3_backup_step(job_, pages);
  pages_ = sqlite3_backup_pagecount(job_);
  if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return false;
  if (rc != SQLITE_DONE)
    return io_error("the backup failed", dest_);
  rc = sqlite3_backup_finish(job_);
  job_ = nullptr;
  if (rc != SQLITE_OK)
    return io_error("the backup failed", dest_);
  if (sqlite3_close(dest_) != SQLITE_OK)
    return io_error("cannot close the copy", dest_);
  dest_ = nullptr;
  if (std::rename(partial_of(path_).c_str(), path_.c_str()) != 0)
    return caf::make_error(ec::io_failed, "cannot move the copy to " + path_);
  done_ = true;
  return true;
}

} // namespace orchd::storage
