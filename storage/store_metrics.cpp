// The database's gauges of /metrics and the run output lookup of the
// console's `log`: read-only queries, apart from the store's main file.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "actors/core/metrics.hpp"
#include "storage/database.hpp"

namespace orchd::storage {

std::vector<metric_sample> store::metric_samples() {
  std::vector<metric_sample> out;
  {
    auto q = db_.prepare("SELECT COUNT(*) FROM events WHERE processed = 0");
    if (q->step())
      out.push_back(
          {"orchd_events_unhandled", {}, static_cast<double>(q->int64(0))});
  }
  {
    auto q = db_.prepare("SELECT COALESCE(stage, 'created'), COUNT(*) FROM "
                         "tasks GROUP BY 1 ORDER BY 1");
    while (q->step())
      out.push_back({"orchd_tasks", metrics::labels({{"stage", q->text(0)}}),
                     static_cast<double>(q->int64(1))});
  }
  {
    auto q =
        db_.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY 1 ORDER BY 1");
    while (q->step())
      out.push_back({"orchd_jobs", metrics::labels({{"status", q->text(0)}}),
                     static_cast<double>(q->int64(1))});
  }
  // A run's project is its task's repo, else its job's.
  auto q = db_.prepare(
      "SELECT COALESCE(t.repo, j.repo, ''), r.agent, "
      "SUM(COALESCE(r.input_tokens, 0)), SUM(COALESCE(r.output_tokens, 0)), "
      "SUM(COALESCE(r.cache_read_tokens, 0)), "
      "SUM(COALESCE(r.cache_creation_tokens, 0)), "
      "SUM(COALESCE(r.cost_usd, 0)) "
      "FROM agent_runs r LEFT JOIN tasks t ON t.id = r.task_id "
      "LEFT JOIN jobs j ON j.id = r.job_id GROUP BY 1, 2 ORDER BY 1, 2");
  while (q->step()) {
    auto project = q->text(0);
    auto agent = q->text(1);
    const char* kinds[] = {"input", "output", "cache_read", "cache_creation"};
    for (int k = 0; k < 4; ++k)
      out.push_back(
          {"orchd_tokens",
           metrics::labels(
               {{"project", project}, {"agent", agent}, {"kind", kinds[k]}}),
           static_cast<double>(q->int64(2 + k))});
    out.push_back({"orchd_cost_usd",
                   metrics::labels({{"project", project}, {"agent", agent}}),
                   q->real(6)});
  }
  return out;
}

caf::expected<std::string> store::run_output_path(int64_t run_id) {
  auto q = db_.prepare("SELECT output_path FROM agent_runs WHERE id = ?1");
  q->bind(1, run_id);
  if (!q->step())
    return caf::make_error(ec::no_such_run,
                           "run " + std::to_string(run_id) + " not found");
  if (q->is_null(0) || q->text(0).empty())
    return caf::make_error(ec::io_failed, "run " + std::to_string(run_id) +
                                              " has no output file");
  return q->text(0);
}

} // namespace orchd::storage
