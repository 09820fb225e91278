// The storage actor's state as the inspector shows it (GET /actors).
#include "storage/storage_actor.hpp"

#include "storage/database.hpp"
#include "storage/schema.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>

namespace orchd::storage {

namespace {

int64_t size_of(const std::string& path) {
  std::error_code ec;
  auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<int64_t>(n);
}

} // namespace

std::string status_summary(const storage_state& st) {
  auto& s = st.stats;
  auto path = st.db ? st.db->path() : std::string{};
  return nlohmann::json{
      {"commits", s.commits},
      {"failed_commits", s.failed_commits},
      {"writes", s.writes},
      {"reads", s.reads},
      {"batch_mean", s.commits == 0
                         ? 0.0
                         : static_cast<double>(st.requests_committed) /
                               static_cast<double>(s.commits)},
      {"batch_max", s.largest_batch},
      {"open_batch", st.batch.size()},
      {"last_commit_at", st.last_commit_at},
      {"last_commit_ms", st.last_commit_s * 1000},
      {"database_bytes", size_of(path)},
      {"wal_bytes", size_of(path + "-wal")},
      {"schema_level", schema::latest_version},
      {"backup_running", static_cast<bool>(st.backup)}}
      .dump();
}

} // namespace orchd::storage
