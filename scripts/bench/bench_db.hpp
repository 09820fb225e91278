// Shared by the benchmark programs: a fresh database file per measurement.
#pragma once

#include "actors/core/error.hpp"
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

/// Reads `--key value` pairs into `set(key, value)`, which answers false
/// for a key it does not know: the program then exits 2 naming it.
template <class Set>
void read_options(int argc, char** argv, Set set) {
  for (int i = 1; i + 1 < argc; i += 2)
    if (!set(std::string{argv[i]}, std::string{argv[i + 1]})) {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      std::exit(2);
    }
}

} // namespace orchd::bench
