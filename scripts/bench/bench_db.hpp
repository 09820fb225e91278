// Shared by the benchmark programs: a fresh database file per measurement.
#pragma once

#include "actors/error.hpp"
#include "storage/database.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace orchd::bench {

/// Removes `dir/name` (and its WAL files) and opens it anew with the given
/// synchronous mode, then runs `pragma` (extra SQL) if any; exits on error.
inline std::shared_ptr<storage::database>
fresh_db(const std::string& dir, const std::string& name,
         const std::string& synchronous, const std::string& pragma = "") {
  auto path = dir + "/" + name;
  for (auto suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(path + suffix);
  storage::open_options o;
  o.path = path;
  o.synchronous = synchronous;
  auto db = storage::database::open(o);
  if (!db) {
    std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(),
                 describe(db.error()).c_str());
    std::exit(1);
  }
  if (!pragma.empty())
    (*db)->exec(pragma.c_str());
  return std::shared_ptr<storage::database>{std::move(*db)};
}

} // namespace orchd::bench
