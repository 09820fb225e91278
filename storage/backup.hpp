// An online backup of the open database into a new file, with SQLite's
// backup API, a few pages at a time: the storage actor serves requests
// between steps, and writes it makes on the same connection meanwhile are
// carried into the copy by SQLite itself.
#pragma once

#include <caf/expected.hpp>

#include <cstdint>
#include <memory>
#include <string>

struct sqlite3;
struct sqlite3_backup;

namespace orchd::storage {

class database;

class online_backup {
public:
  /// Starts copying `source` into `path` (absolute, in an existing folder,
  /// not existing yet: never overwritten). The copy is written beside it
  /// as `path.partial` and renamed into place when complete.
  /// ec::invalid_argument, ec::conflict (exists), ec::io_failed.
  static caf::expected<std::unique_ptr<online_backup>>
  start(database& source, const std::string& path);

  /// Abandons an unfinished copy (its partial file is removed).
  ~online_backup();
  online_backup(const online_backup&) = delete;
  online_backup& operator=(const online_backup&) = delete;

  /// Copies up to `pages` pages; true when the copy is complete and in
  /// place. Must not run while the source has a transaction open.
  caf::expected<bool> step(int pages);

  const std::string& path() const { return path_; }
  /// The source's pages (known after the first step).
  int64_t pages() const { return pages_; }

private:
  online_backup(std::string path, sqlite3* dest, sqlite3_backup* job);

  std::string path_;
  sqlite3* dest_;
  sqlite3_backup* job_;
  int64_t pages_ = 0;
  bool done_ = false;
};

} // namespace orchd::storage
