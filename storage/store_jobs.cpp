// The job queue half of the store: enqueue, the gated claim, finalising.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

#include <nlohmann/json.hpp>
#include <sqlite3.h>

namespace orchd::storage {

namespace {

// The claim: the oldest runnable queued job is picked by one read, then
// flipped to running by an update guarded by `status = 'queued'` (one
// UPDATE ... RETURNING with the pick as a subquery did the same at half
// the speed: RETURNING buffers its rows in a temporary table). Built from
// literals so each variant stays one cached prepared statement.
//
// Dependency gate (?1 = 1): not while the job's task has an edge to a task
// that is not finished. Jobs without a task or without edges pass.
// ?2: a JSON array of repos at their own concurrency cap (NULL: none).
// ?4: a JSON array of agents whose account is held (NULL: none).
// A job held by a budget waits until its `held_until` (none: until a new
// budget releases it).
// The last column is the claim's time, the same 'now' the gate used.
#define ORCHD_CLAIM_HEAD                                                       \
  "SELECT " ORCHD_JOB_COLUMNS_J ", datetime('now') FROM jobs j "               \
  "WHERE j.status = 'queued'"                                                  \
  " AND (j.available_at IS NULL OR j.available_at <= datetime('now'))"         \
  " AND (?1 = 0 OR j.task_id IS NULL OR NOT EXISTS ("                          \
  "  SELECT 1 FROM job_deps d JOIN tasks t ON t.id = d.depends_on_task_id"     \
  "  WHERE d.task_id = j.task_id"                                              \
  "  AND t.stage NOT IN " ORCHD_FINISHED_STAGES ")"                            \
  "  AND NOT EXISTS (SELECT 1 FROM work_item_deps w"                           \
  "  WHERE w.task_id = j.task_id AND w.resolved_at IS NULL))"                  \
  " AND (?2 IS NULL OR j.repo NOT IN (SELECT value FROM json_each(?2)))"       \
  " AND (?4 IS NULL OR j.agent NOT IN (SELECT value FROM json_each(?4)))"      \
  " AND (j.held IS NULL OR j.held_until <= datetime('now'))"

#define ORCHD_CLAIM_TAIL " ORDER BY j.id LIMIT 1"

// Serial gate: a job of an agent in ?3 (a JSON array; the first stage's,
// "analyst" by default) waits while its repo has an active freeze or
// another unfinished task ahead of it. "Ahead" is an older task (lower id)
// or one already past 'created': LEGACY.md's rule ("another task of the
// repo is not done") read literally would block every analyst for good as
// soon as two new tasks of one repo wait together; this keeps its intent
// (one task of a repo in flight at a time) and serves the oldest first.
constexpr const char* claim_gated_sql = ORCHD_CLAIM_HEAD
    " AND (j.agent NOT IN (SELECT value FROM json_each(?3)) OR ("
    "  NOT EXISTS (SELECT 1 FROM repo_freeze f"
    "   WHERE f.repo = j.repo AND f.cleared_at IS NULL)"
    "  AND NOT EXISTS (SELECT 1 FROM tasks o"
    "   WHERE o.repo = j.repo AND o.stage NOT IN " ORCHD_FINISHED_STAGES
    "   AND o.id IS NOT j.task_id"
    "   AND (j.task_id IS NULL OR o.id < j.task_id OR o.stage != "
    "'created'))))" ORCHD_CLAIM_TAIL;

// Without the serial gate: used when the gate's condition cannot be
// evaluated, so one broken table never wedges every project's queue.
constexpr const char* claim_open_sql = ORCHD_CLAIM_HEAD ORCHD_CLAIM_TAIL;

void bind_list(statement& q, int idx, const std::vector<std::string>& xs) {
  if (xs.empty())
    q.bind_null(idx);
  else
    q.bind(idx, std::string_view{nlohmann::json(xs).dump()});
}

// The claim's pick: the oldest runnable job, and the claim's 'now'.
caf::expected<std::pair<job_row, std::string>> pick(database& db, bool gated,
                                                    const claim_options& opts) {
  auto q = db.prepare(gated ? claim_gated_sql : claim_open_sql);
  q->bind(1, int64_t{opts.dependency_gate ? 1 : 0});
  bind_list(*q, 2, opts.excluded_repos);
  if (gated)
    q->bind(3,
            std::string_view{nlohmann::json(opts.serial_gate_agents).dump()});
  bind_list(*q, 4, opts.held_agents);
  if (!q->step())
    return caf::make_error(ec::no_claimable_job);
  auto job = read_job(*q);
  return std::make_pair(std::move(job), q->text(job_column_count));
}

caf::expected<job_row> run_claim(store& data, database& db, bool gated,
                                 const claim_options& opts) {
  job_row job;
  std::string now;
  // A job over its budget is held (out of the pick) and the next one
  // looked at; the bound only guards against a hold that did not write.
  for (int tries = 0;; ++tries) {
    auto picked = pick(db, gated, opts);
    if (!picked)
      return picked.error();
    if (tries < 1000 && data.hold_if_over_budget(picked->first, opts))
      continue;
    job = std::move(picked->first);
    now = std::move(picked->second);
    break;
  }
  // The claim forgets the previous run (and its pid): until this claim's
  // run begins, the job has none, so nobody finalises it from an older
  // run's recorded end (restart recovery, the reaper's second tier).
  auto u = db.prepare("UPDATE jobs SET status = 'running', "
                      "attempts = attempts + 1, started_at = ?2, "
                      "finished_at = NULL, run_id = NULL, pid = NULL, "
                      "held = NULL, held_until = NULL "
                      "WHERE id = ?1 AND status = 'queued'");
  u->bind(1, job.id);
  u->bind(2, std::string_view{now});
  u->step();
  if (db.changes() == 0)
    return caf::make_error(ec::no_claimable_job);
  job.status = job_status::running;
  job.run_id = caf::none;
  job.pid = caf::none;
  ++job.attempts;
  job.started_at = std::move(now);
  job.finished_at.clear();
  if (job.task_id && !job.held.empty()) {
    // Past its hold: the task's pause is over.
    auto p = db.prepare("UPDATE tasks SET budget_paused = NULL WHERE id = ?1 "
                        "AND budget_paused IS NOT NULL");
    p->bind(1, *job.task_id);
    p->step();
    log::info("orchd.storage: job ", job.id, " of task ", *job.task_id,
              " released from its hold (", job.held, ")");
  }
  job.held.clear();
  job.held_until.clear();
  return job;
}

// Errors that mean the write itself failed, not the gate's condition.
bool is_write_failure(int code) {
  switch (code & 0xff) {
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_READONLY:
  case SQLITE_BUSY:
  case SQLITE_NOMEM:
    return true;
  default:
    return false;
  }
}

} // namespace

caf::expected<int64_t> store::enqueue(const new_job& x) {
  if (x.agent.empty() || x.repo.empty())
    return invalid("a job needs an agent and a repo");
  if (x.max_attempts < 1)
    return invalid("max_attempts must be at least 1");
  if (x.delay_s < 0)
    return invalid("a negative delay");
  auto q = db_.prepare(
      "INSERT INTO jobs (agent, repo, task_id, task_content, max_attempts, "
      "available_at) VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?6 > 0 THEN "
      "datetime('now', '+' || ?6 || ' seconds') END)");
  q->bind(1, std::string_view{x.agent});
  q->bind(2, std::string_view{x.repo});
  q->bind(3, x.task_id);
  q->bind(4, std::string_view{x.task_content});
  q->bind(5, x.max_attempts);
  q->bind(6, x.delay_s);
  q->step();
  return db_.last_insert_rowid();
}

caf::expected<job_row> store::claim_next_job(const claim_options& opts) {
  try {
    return run_claim(*this, db_, true, opts);
  } catch (const sql_error& e) {
    if (is_write_failure(e.code()))
      throw;
    log::warn("orchd.storage: serial gate unavailable, claiming without it: ",
              e.what());
  }
  return run_claim(*this, db_, false, opts);
}

// `available_at` is whole-second text (compared with datetime('now') as the
// Python code did); it is rounded up, so the job is never due before
// `delay_s` has passed (a Retry-After is a floor). The claim counted this
// run in `attempts`; a transient failure is not a code-fault attempt, so
// that count is given back (the Python code kept it, and a few rate limits
// used up a job's attempts).
bool store::requeue_transient(const transient_requeue& x) {
  auto q = db_.prepare(
      "UPDATE jobs SET status = 'queued', "
      "transient_attempts = transient_attempts + 1, "
      "attempts = CASE WHEN status = 'running' AND attempts > 0 "
      " THEN attempts - 1 ELSE attempts END, "
      "available_at = datetime('now', '+' || ?2 || ' seconds', "
      "'+0.999 seconds'), "
      "started_at = NULL, finished_at = NULL, error = COALESCE(?3, error) "
      "WHERE id = ?1 AND (?4 IS NULL OR (status = 'running' "
      " AND (?4 = 0 OR run_id = ?4)))");
  q->bind(1, x.job_id);
  q->bind(2, x.delay_s < 0 ? int64_t{0} : x.delay_s);
  q->bind(3, x.error);
  q->bind(4, x.expected_run_id);
  q->step();
  return db_.changes() > 0;
}

namespace {

// One statement for both mark and reap; ?5 = 1 guards on 'running' (and
// ?6, when set, on the run it is running).
constexpr const char* mark_sql =
    "UPDATE jobs SET status = ?2, "
    "finished_at = CASE WHEN ?2 IN ('done', 'failed') THEN datetime('now') "
    " WHEN ?2 = 'queued' THEN NULL ELSE finished_at END, "
    "started_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE started_at END, "
    "run_id = COALESCE(?3, run_id), error = COALESCE(?4, error) "
    "WHERE id = ?1 AND (?5 = 0 OR (status = 'running' "
    " AND (?6 IS NULL OR run_id = ?6)))";

caf::expected<bool> update_status(database& db, const job_mark& x,
                                  bool only_running) {
  auto q = db.prepare(mark_sql);
  q->bind(1, x.job_id);
  q->bind(2, std::string_view{to_string(x.status)});
  q->bind(3, x.run_id);
  q->bind(4, x.error);
  q->bind(5, int64_t{only_running ? 1 : 0});
  q->bind(6, only_running ? x.expected_run_id : caf::optional<int64_t>{});
  q->step();
  return db.changes() > 0;
}

} // namespace

caf::expected<bool> store::mark_job(const job_mark& x) {
  return update_status(db_, x, false);
}

caf::expected<bool> store::finalise_job(const job_mark& x) {
  return update_status(db_, x, true);
}

caf::expected<bool> store::requeue_interrupted(const interruption& x) {
  if (x.max_interruptions < 1)
    return invalid("max_interruptions must be at least 1");
  auto q = db_.prepare(
      "UPDATE jobs SET "
      "status = CASE WHEN interruptions + 1 >= ?3 THEN 'failed' "
      " ELSE 'queued' END, "
      "error = CASE WHEN interruptions + 1 >= ?3 THEN ?5 ELSE ?4 END, "
      "finished_at = CASE WHEN interruptions + 1 >= ?3 "
      " THEN datetime('now') ELSE NULL END, "
      "started_at = NULL, pid = NULL, "
      "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
      "interruptions = interruptions + 1 "
      "WHERE id = ?1 AND status = 'running' AND (?2 IS NULL OR run_id = ?2)");
  q->bind(1, x.job_id);
  q->bind(2, x.expected_run_id);
  q->bind(3, x.max_interruptions);
  q->bind(4, std::string_view{x.error});
  q->bind(5, std::string_view{x.final_error});
  q->step();
  return db_.changes() > 0;
}

bool store::has_active_job(int64_t task_id) {
  auto q = db_.prepare("SELECT 1 FROM jobs WHERE task_id = ?1 AND "
                       "status IN ('queued', 'running') LIMIT 1");
  q->bind(1, task_id);
  return q->step();
}

int64_t store::running_count() {
  auto q = db_.prepare("SELECT COUNT(*) FROM jobs WHERE status = 'running'");
  q->step();
  return q->int64(0);
}

int64_t store::requeue_running() {
  auto q = db_.prepare("UPDATE jobs SET status = 'queued', started_at = NULL "
                       "WHERE status = 'running'");
  q->step();
  return db_.changes();
}

std::vector<running_job> store::running_jobs() {
  auto q = db_.prepare(
      "SELECT " ORCHD_JOB_COLUMNS_J ", "
      "CAST((julianday('now') - julianday(j.started_at)) * 86400 AS INTEGER), "
      "r.exit_code, r.finished_at, "
      "CAST((julianday('now') - julianday(r.finished_at)) * 86400 AS INTEGER), "
      "r.outcome, r.error, COALESCE(r.retry_after_s, 0), r.output_path "
      "FROM jobs j LEFT JOIN agent_runs r ON r.id = j.run_id "
      "WHERE j.status = 'running' ORDER BY j.id");
  std::vector<running_job> result;
  constexpr int n = job_column_count;
  while (q->step())
    result.push_back(running_job{read_job(*q), q->int64(n), q->opt_int64(n + 1),
                                 q->text(n + 2), q->opt_int64(n + 3),
                                 parse_run_kind(q->text(n + 4)), q->text(n + 5),
                                 q->int64(n + 6), q->text(n + 7)});
  return result;
}

caf::expected<job_row> store::job_by_id(int64_t id) {
  auto q = db_.prepare("SELECT " ORCHD_JOB_COLUMNS " FROM jobs WHERE id = ?1");
  q->bind(1, id);
  if (!q->step())
    return caf::make_error(ec::no_such_job, "job " + std::to_string(id));
  return read_job(*q);
}

job_counts store::count_jobs() {
  auto q = db_.prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status");
  job_counts result;
  while (q->step()) {
    auto n = q->int64(1);
    if (auto status = parse_job_status(q->text(0))) {
      switch (*status) {
      case job_status::queued:
        result.queued = n;
        break;
      case job_status::running:
        result.running = n;
        break;
      case job_status::done:
        result.done = n;
        break;
      case job_status::failed:
        result.failed = n;
        break;
      }
    }
  }
  auto held =
      db_.prepare("SELECT COUNT(*) FROM jobs WHERE status = 'queued' "
                  "AND (available_at > datetime('now') OR (held IS NOT NULL "
                  "AND (held_until IS NULL OR held_until > datetime('now'))))");
  if (held->step())
    result.held = held->int64(0);
  return result;
}

std::vector<job_row> store::recent_jobs(int64_t limit,
                                        caf::optional<job_status> status) {
  auto q = db_.prepare("SELECT " ORCHD_JOB_COLUMNS " FROM jobs "
                       "WHERE ?2 IS NULL OR status = ?2 "
                       "ORDER BY id DESC LIMIT ?1");
  q->bind(1, limit);
  q->bind(2, status ? caf::optional<std::string>{to_string(*status)}
                    : caf::optional<std::string>{});
  std::vector<job_row> result;
  while (q->step())
    result.push_back(read_job(*q));
  return result;
}

std::vector<job_row> store::jobs_of_task(int64_t task_id) {
  auto q = db_.prepare("SELECT " ORCHD_JOB_COLUMNS " FROM jobs "
                       "WHERE task_id = ?1 ORDER BY id");
  q->bind(1, task_id);
  std::vector<job_row> result;
  while (q->step())
    result.push_back(read_job(*q));
  return result;
}

caf::expected<bool> store::stamp_pid(const job_pid& x) {
  auto q = db_.prepare("UPDATE jobs SET pid = ?3 WHERE id = ?1 AND "
                       "status = 'running' AND run_id = ?2");
  q->bind(1, x.job_id);
  q->bind(2, x.run_id);
  q->bind(3, x.pid);
  q->step();
  return db_.changes() > 0;
}

caf::expected<bool> store::cancel_job(int64_t job_id) {
  auto job = job_by_id(job_id);
  if (!job)
    return job.error();
  auto q =
      db_.prepare("UPDATE jobs SET status = 'failed', error = 'cancelled', "
                  "finished_at = datetime('now') "
                  "WHERE id = ?1 AND status IN ('queued', 'running')");
  q->bind(1, job_id);
  q->step();
  if (db_.changes() == 0)
    return caf::make_error(ec::conflict, "job " + std::to_string(job_id) +
                                             " is " + to_string(job->status) +
                                             ", not queued or running");
  return true;
}

caf::expected<bool> store::requeue_failed(int64_t job_id) {
  auto job = job_by_id(job_id);
  if (!job)
    return job.error();
  auto q = db_.prepare(
      "UPDATE jobs SET status = 'queued', attempts = 0, "
      "transient_attempts = 0, available_at = NULL, started_at = NULL, "
      "held = NULL, held_until = NULL, "
      "finished_at = NULL, pid = NULL WHERE id = ?1 AND status = 'failed'");
  q->bind(1, job_id);
  q->step();
  if (db_.changes() == 0)
    return caf::make_error(ec::conflict, "job " + std::to_string(job_id) +
                                             " is " + to_string(job->status) +
                                             ", only a failed job is requeued");
  return true;
}

caf::optional<int64_t> store::next_due_in_ms() {
  // Held back by a delay, or by a daily budget until its midnight.
  auto q = db_.prepare(
      "SELECT CAST((julianday(MIN(t)) - julianday('now')) * 86400000 AS "
      "INTEGER) FROM (SELECT available_at AS t FROM jobs WHERE "
      "status = 'queued' AND available_at > datetime('now') UNION ALL "
      "SELECT held_until FROM jobs WHERE status = 'queued' AND held IS NOT "
      "NULL AND held_until > datetime('now'))");
  if (!q->step())
    return caf::none;
  auto ms = q->opt_int64(0);
  if (ms && *ms < 0)
    return int64_t{0};
  return ms;
}

} // namespace orchd::storage
