#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

#include <cctype>

namespace orchd::storage {

namespace {

// Digits only, at least one.
bool all_digits(const std::string& s) {
  if (s.empty())
    return false;
  for (auto c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

// N zero-padded to at least `width` digits.
std::string padded(int64_t n, size_t width) {
  auto digits = std::to_string(n);
  if (digits.size() < width)
    digits.insert(0, width - digits.size(), '0');
  return digits;
}

// Escapes LIKE wildcards so a prefix matches itself only (ESCAPE '\').
std::string like_literal(const std::string& s) {
  std::string out;
  for (auto c : s) {
    if (c == '%' || c == '_' || c == '\\')
      out += '\\';
    out += c;
  }
  return out;
}

} // namespace

// -- tasks ------------------------------------------------------------------

caf::expected<task_row> store::task_by_id(int64_t id) {
  auto q =
      db_.prepare("SELECT " ORCHD_TASK_COLUMNS " FROM tasks WHERE id = ?1");
  q->bind(1, id);
  if (!q->step())
    return caf::make_error(ec::no_such_task, "task " + std::to_string(id));
  return read_task(*q);
}

caf::expected<task_row> store::task_by_plane_id(const std::string& plane_id) {
  auto q = db_.prepare("SELECT " ORCHD_TASK_COLUMNS " FROM tasks "
                       "WHERE plane_id = ?1 OR plane_issue_id = ?1 "
                       "ORDER BY id LIMIT 1");
  q->bind(1, std::string_view{plane_id});
  if (!q->step())
    return caf::make_error(ec::no_such_task, "plane id " + plane_id);
  return read_task(*q);
}

caf::expected<task_row> store::task_by_branch(const std::string& repo,
                                              const std::string& branch) {
  auto q = db_.prepare("SELECT " ORCHD_TASK_COLUMNS " FROM tasks "
                       "WHERE repo = ?1 AND branch = ?2 ORDER BY id LIMIT 1");
  q->bind(1, std::string_view{repo});
  q->bind(2, std::string_view{branch});
  if (!q->step())
    return caf::make_error(ec::no_such_task, repo + " branch " + branch);
  return read_task(*q);
}

std::vector<active_task> store::active_tasks() {
  auto q = db_.prepare(
      "SELECT " ORCHD_TASK_COLUMNS ", "
      "CAST((julianday('now') - julianday(updated_at)) * 86400 AS INTEGER) "
      "FROM tasks WHERE stage NOT IN " ORCHD_FINISHED_STAGES " ORDER BY id");
  std::vector<active_task> result;
  while (q->step())
    result.push_back(active_task{read_task(*q), q->int64(14)});
  return result;
}

std::vector<task_row> store::tasks_in_stage(const std::string& repo,
                                            task_stage stage) {
  auto q = db_.prepare("SELECT " ORCHD_TASK_COLUMNS " FROM tasks "
                       "WHERE repo = ?1 AND stage = ?2 ORDER BY id");
  q->bind(1, std::string_view{repo});
  q->bind(2, std::string_view{to_string(stage)});
  std::vector<task_row> result;
  while (q->step())
    result.push_back(read_task(*q));
  return result;
}

std::vector<task_row> store::finished_before(int64_t days) {
  auto q = db_.prepare("SELECT " ORCHD_TASK_COLUMNS
                       " FROM tasks WHERE stage IN " ORCHD_FINISHED_STAGES
                       " AND updated_at < datetime('now', ?1) "
                       "ORDER BY updated_at, id");
  q->bind(1, std::string_view{"-" + std::to_string(days) + " days"});
  std::vector<task_row> result;
  while (q->step())
    result.push_back(read_task(*q));
  return result;
}

caf::expected<task_claim> store::create_task(const new_task& x) {
  if (x.plane_id.empty())
    return invalid("a task needs a plane id");
  if (x.repo.empty())
    return invalid("a task needs a repo");
  // The storage actor serialises every call: look-up and insert cannot
  // interleave with another creation (this replaces the Python lock).
  if (auto found = task_by_plane_id(x.plane_id))
    return task_claim{std::move(*found), false};
  else if (found.error() != ec::no_such_task)
    return found.error();
  {
    auto q = db_.prepare(
        "INSERT INTO tasks (plane_id, plane_issue_id, work_item_id, repo, "
        "branch, title) VALUES (?1, ?1, ?2, ?3, ?4, ?5)");
    q->bind(1, std::string_view{x.plane_id});
    q->bind_text_or_null(2, x.work_item_id);
    q->bind(3, std::string_view{x.repo});
    q->bind_text_or_null(4, x.branch);
    q->bind_text_or_null(5, x.title);
    q->step();
  }
  auto row = task_by_id(db_.last_insert_rowid());
  if (!row)
    return row.error();
  return task_claim{std::move(*row), true};
}

caf::expected<bool> store::set_stage(int64_t task_id, task_stage stage) {
  if (stage == task_stage::unknown)
    return invalid("the unknown stage is never written");
  auto q = db_.prepare("UPDATE tasks SET stage = ?2, "
                       "updated_at = datetime('now') WHERE id = ?1");
  q->bind(1, task_id);
  q->bind(2, std::string_view{to_string(stage)});
  q->step();
  return db_.changes() > 0;
}

caf::expected<std::vector<int64_t>> store::cancel_task(int64_t task_id) {
  auto task = task_by_id(task_id);
  if (!task)
    return task.error();
  auto q = db_.prepare("UPDATE tasks SET stage = 'cancelled', "
                       "updated_at = datetime('now') WHERE id = ?1 "
                       "AND stage NOT IN " ORCHD_FINISHED_STAGES);
  q->bind(1, task_id);
  q->step();
  if (db_.changes() == 0)
    return caf::make_error(ec::conflict, "task " + std::to_string(task_id) +
                                             " is " + to_string(task->stage) +
                                             ", already finished");
  return stop_task_jobs(task_id);
}

std::vector<int64_t> store::stop_task_jobs(int64_t task_id) {
  auto jobs = db_.prepare("UPDATE jobs SET status = 'failed', "
                          "error = 'cancelled with its task', "
                          "finished_at = datetime('now') "
                          "WHERE task_id = ?1 AND status = 'queued'");
  jobs->bind(1, task_id);
  jobs->step();
  auto running = db_.prepare(
      "SELECT id FROM jobs WHERE task_id = ?1 AND status = 'running' "
      "ORDER BY id");
  running->bind(1, task_id);
  std::vector<int64_t> ids;
  while (running->step())
    ids.push_back(running->int64(0));
  return ids;
}

// -- work item ids ----------------------------------------------------------

std::string store::next_work_item_id(const std::string& repo,
                                     const std::string& prefix) {
  auto q = db_.prepare("SELECT work_item_id FROM tasks "
                       "WHERE repo = ?1 AND work_item_id LIKE ?2 ESCAPE '\\' "
                       "ORDER BY id DESC");
  q->bind(1, std::string_view{repo});
  q->bind(2, std::string_view{like_literal(prefix) + "-%"});
  // The newest id whose tail is a number; others (PREFIX-abc) are skipped.
  // LIKE ignores ASCII case, so the prefix is compared again exactly.
  auto head = prefix + "-";
  while (q->step()) {
    auto id = q->text(0);
    if (id.compare(0, head.size(), head) != 0)
      continue;
    auto tail = id.substr(head.size());
    if (all_digits(tail) && tail.size() < 19)
      return prefix + "-" + padded(std::stoll(tail) + 1, 3);
  }
  return prefix + "-001";
}

std::string store::unique_work_item_id(const std::string& repo,
                                       const std::string& candidate) {
  auto dash = candidate.rfind('-');
  if (dash == std::string::npos)
    return candidate;
  auto head = candidate.substr(0, dash + 1);
  auto tail = candidate.substr(dash + 1);
  if (!all_digits(tail) || tail.size() >= 19)
    return candidate;
  auto n = std::stoll(tail);
  auto id = candidate;
  for (;;) {
    auto q = db_.prepare(
        "SELECT 1 FROM tasks WHERE repo = ?1 AND work_item_id = ?2 LIMIT 1");
    q->bind(1, std::string_view{repo});
    q->bind(2, std::string_view{id});
    if (!q->step())
      return id;
    id = head + padded(++n, tail.size());
  }
}

// -- BRD review --------------------------------------------------------------

bool store::start_brd_review(int64_t task_id) {
  auto q = db_.prepare("UPDATE tasks SET brd_review_started_at = "
                       "datetime('now') WHERE id = ?1 AND "
                       "brd_review_started_at IS NULL");
  q->bind(1, task_id);
  q->step();
  return db_.changes() > 0;
}

bool store::end_brd_review(int64_t task_id) {
  auto q = db_.prepare("UPDATE tasks SET brd_review_ended_at = "
                       "datetime('now') WHERE id = ?1 AND "
                       "brd_review_started_at IS NOT NULL AND "
                       "brd_review_ended_at IS NULL");
  q->bind(1, task_id);
  q->step();
  return db_.changes() > 0;
}

// -- events -----------------------------------------------------------------

caf::expected<event_ack> store::add_event(const event_record& x,
                                          const ci_mapping& ci) {
  if (x.source.empty() || x.event_type.empty())
    return invalid("an event needs a source and an event type");
  // A CI result with named branches is mapped here: its task (if one of
  // the branches is a task's) and result are kept on the row it makes. It
  // is handled at once unless it decides something for a task (success or
  // failure): that one stays unhandled until the pipeline took it, so a
  // crash in between replays it.
  bool mapped = !ci.branches.empty();
  caf::optional<int64_t> task_id;
  std::string branch;
  if (mapped) {
    branch = ci.branches.front();
    if (auto t = task_on_branches(ci.repo, ci.branches)) {
      task_id = t->id;
      branch = t->branch;
    }
  }
  // Either unique key already present (delivery id, body key): a duplicate.
  auto q = db_.prepare("INSERT OR IGNORE INTO events "
                       "(source, event_type, payload, delivery_id, processed, "
                       "task_id, ci_branch, ci_result, body_key) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  q->bind(1, std::string_view{x.source});
  q->bind(2, std::string_view{x.event_type});
  q->bind(3, std::string_view{x.payload});
  q->bind_text_or_null(4, x.delivery_id);
  bool decisive = task_id && decides(ci.result);
  q->bind(5, int64_t{x.processed || (mapped && !decisive) ? 1 : 0});
  q->bind(6, task_id);
  q->bind_text_or_null(7, branch);
  q->bind_text_or_null(8, mapped ? ci.result : std::string{});
  q->bind_text_or_null(9, x.body_key);
  q->step();
  if (db_.changes() == 0)
    return event_ack{0, false, caf::none};
  return event_ack{db_.last_insert_rowid(), true, task_id};
}

bool store::mark_event_processed(int64_t id) {
  auto q = db_.prepare(
      "UPDATE events SET processed = 1 WHERE id = ?1 AND processed = 0");
  q->bind(1, id);
  q->step();
  return db_.changes() > 0;
}

int64_t store::clear_old_payloads(int64_t days) {
  auto q = db_.prepare("UPDATE events SET payload = '' WHERE processed = 1 "
                       "AND payload != '' AND timestamp < datetime('now', ?1)");
  q->bind(1, std::string_view{"-" + std::to_string(days) + " days"});
  q->step();
  return db_.changes();
}

std::vector<stored_event> store::unprocessed_events(const std::string& source,
                                                    int64_t older_than_s) {
  auto q = db_.prepare(
      "SELECT id, source, event_type, payload, delivery_id FROM events "
      "WHERE source = ?1 AND processed = 0 AND id > (SELECT CAST(value AS "
      "INTEGER) FROM orchd_meta WHERE key = 'replay_from_event_id') "
      "AND (?2 <= 0 OR timestamp <= datetime('now', '-' || ?2 || ' seconds')) "
      "ORDER BY id");
  q->bind(1, std::string_view{source});
  q->bind(2, older_than_s);
  std::vector<stored_event> result;
  while (q->step())
    result.push_back(
        stored_event{q->int64(0), event_record{q->text(1), q->text(2),
                                               q->text(3), q->text(4), false}});
  return result;
}

caf::expected<task_claim> store::create_work_item(const work_item_request& x) {
  if (x.prefix.empty())
    return invalid("a work item needs a prefix");
  if (x.first_agent.empty())
    return invalid("a work item needs its first agent");
  if (auto found = task_by_plane_id(x.plane_id))
    return task_claim{std::move(*found), false};
  else if (found.error() != ec::no_such_task)
    return found.error();
  auto id = x.sequential || x.sequence_id <= 0
                ? next_work_item_id(x.repo, x.prefix)
                : unique_work_item_id(x.repo, x.prefix + "-" +
                                                  padded(x.sequence_id, 3));
  auto branch = x.branch_prefix + id;
  if (!x.title_slug.empty())
    branch += "-" + x.title_slug;
  auto made = create_task(new_task{x.plane_id, id, x.repo, branch, x.title});
  if (!made)
    return made.error();
  if (made->created && x.budget_usd) {
    auto b = db_.prepare("UPDATE tasks SET budget_usd = ?2 WHERE id = ?1");
    b->bind(1, made->task.id);
    b->bind(2, *x.budget_usd);
    b->step();
  }
  new_job first;
  first.agent = x.first_agent;
  first.repo = x.repo;
  first.task_id = made->task.id;
  first.task_content = x.first_content;
  first.max_attempts = x.first_max_attempts;
  if (auto job = enqueue(first); !job)
    return job.error();
  if (auto err = link_work_item_deps(made->task, x.depends_on))
    return err;
  return made;
}

caf::expected<task_row>
store::task_on_branches(const std::string& repo,
                        const std::vector<std::string>& branches) {
  for (auto& branch : branches)
    if (auto t = task_by_branch(repo, branch))
      return t;
  return caf::make_error(ec::no_such_task, repo + ": no task on the branches");
}

bool store::record_ci_outcome(const ci_outcome& x) {
  auto q = db_.prepare("UPDATE events SET task_id = ?2, ci_branch = ?3, "
                       "ci_result = ?4, processed = 1 WHERE id = ?1");
  q->bind(1, x.event_id);
  q->bind(2, x.task_id);
  q->bind_text_or_null(3, x.branch);
  q->bind_text_or_null(4, x.result);
  q->step();
  return db_.changes() > 0;
}

// -- agent runs -------------------------------------------------------------

caf::expected<int64_t> store::start_run(const new_run& x) {
  if (x.agent.empty())
    return invalid("a run needs an agent");
  auto q = db_.prepare("INSERT INTO agent_runs "
                       "(task_id, agent, output_path, model, effort) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)");
  q->bind(1, x.task_id);
  q->bind(2, std::string_view{x.agent});
  q->bind_text_or_null(3, x.output_path);
  q->bind_text_or_null(4, x.model);
  q->bind_text_or_null(5, x.effort);
  q->step();
  return db_.last_insert_rowid();
}

caf::expected<int64_t> store::begin_run(const run_start& x) {
  if (x.run.agent.empty())
    return invalid("a run needs an agent");
  auto job = job_by_id(x.job_id);
  if (!job)
    return job.error();
  if (job->status != job_status::running)
    return caf::make_error(ec::conflict, "job " + std::to_string(x.job_id) +
                                             " is " + to_string(job->status) +
                                             ", not running");
  // The task's stage as the run begins: the ledger's "by stage".
  auto q = db_.prepare("INSERT INTO agent_runs "
                       "(task_id, agent, model, effort, job_id, stage) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, "
                       "(SELECT stage FROM tasks WHERE id = ?1))");
  q->bind(1, x.run.task_id);
  q->bind(2, std::string_view{x.run.agent});
  q->bind_text_or_null(3, x.run.model);
  q->bind_text_or_null(4, x.run.effort);
  q->bind(5, x.job_id);
  q->step();
  auto run_id = db_.last_insert_rowid();
  auto path = x.output_dir + "/" + std::to_string(run_id) + ".log";
  auto set_path =
      db_.prepare("UPDATE agent_runs SET output_path = ?2 WHERE id = ?1");
  set_path->bind(1, run_id);
  set_path->bind(2, std::string_view{path});
  set_path->step();
  auto point = db_.prepare("UPDATE jobs SET run_id = ?2, pid = NULL "
                           "WHERE id = ?1 AND status = 'running'");
  point->bind(1, x.job_id);
  point->bind(2, run_id);
  point->step();
  return run_id;
}

caf::expected<bool> store::finish_run(const run_outcome& x) {
  auto q = db_.prepare(
      "UPDATE agent_runs SET finished_at = datetime('now'), exit_code = ?2, "
      "input_tokens = ?3, output_tokens = ?4, cache_read_tokens = ?5, "
      "cache_creation_tokens = ?6, cost_usd = ?7, "
      "model = COALESCE(?8, model), outcome = ?9, error = ?10, "
      "retry_after_s = ?11, verdict = ?12, cost_computed = ?13 WHERE id = ?1");
  q->bind(1, x.run_id);
  q->bind(2, x.exit_code);
  q->bind(3, x.usage.input_tokens);
  q->bind(4, x.usage.output_tokens);
  q->bind(5, x.usage.cache_read_tokens);
  q->bind(6, x.usage.cache_creation_tokens);
  if (x.usage.cost_usd)
    q->bind(7, *x.usage.cost_usd);
  else
    q->bind_null(7);
  q->bind_text_or_null(8, x.model);
  if (x.outcome)
    q->bind(9, std::string_view{to_string(*x.outcome)});
  else
    q->bind_null(9);
  q->bind_text_or_null(10, x.error);
  q->bind(11, x.retry_after_s);
  q->bind_text_or_null(12, x.verdict);
  q->bind(13, int64_t{x.cost_computed ? 1 : 0});
  q->step();
  return db_.changes() > 0;
}

#define ORCHD_RUN_COLUMNS                                                      \
  "id, task_id, agent, started_at, finished_at, exit_code, "                   \
  "output_path, input_tokens, output_tokens, cache_read_tokens, "              \
  "cache_creation_tokens, cost_usd, model, effort, job_id, outcome, "          \
  "error, COALESCE(retry_after_s, 0), verdict, stage, cost_computed"

namespace {

run_row read_run(const statement& q) {
  run_row x;
  x.id = q.int64(0);
  x.task_id = q.opt_int64(1);
  x.agent = q.text(2);
  x.started_at = q.text(3);
  x.finished_at = q.text(4);
  x.exit_code = q.opt_int64(5);
  x.output_path = q.text(6);
  x.usage.input_tokens = q.opt_int64(7);
  x.usage.output_tokens = q.opt_int64(8);
  x.usage.cache_read_tokens = q.opt_int64(9);
  x.usage.cache_creation_tokens = q.opt_int64(10);
  x.usage.cost_usd = q.opt_real(11);
  x.model = q.text(12);
  x.effort = q.text(13);
  x.job_id = q.opt_int64(14);
  x.outcome = parse_run_kind(q.text(15));
  x.error = q.text(16);
  x.retry_after_s = q.int64(17);
  x.verdict = q.text(18);
  x.stage = q.text(19);
  x.cost_computed = q.int64(20) != 0;
  return x;
}

} // namespace

caf::expected<run_row> store::run_by_id(int64_t id) {
  auto q =
      db_.prepare("SELECT " ORCHD_RUN_COLUMNS " FROM agent_runs WHERE id = ?1");
  q->bind(1, id);
  if (!q->step())
    return caf::make_error(ec::no_such_run, "run " + std::to_string(id));
  return read_run(*q);
}

std::vector<run_row> store::runs_of_task(int64_t task_id) {
  auto q = db_.prepare("SELECT " ORCHD_RUN_COLUMNS
                       " FROM agent_runs WHERE task_id = ?1 ORDER BY id");
  q->bind(1, task_id);
  std::vector<run_row> out;
  while (q->step())
    out.push_back(read_run(*q));
  return out;
}

caf::expected<task_detail> store::task_detail_of(int64_t task_id) {
  auto pipeline = pipeline_state(task_id);
  if (!pipeline)
    return pipeline.error();
  auto task = task_by_id(task_id);
  if (!task)
    return task.error();
  task_detail x;
  x.task = std::move(*task);
  x.pipeline = std::move(*pipeline);
  x.runs = runs_of_task(task_id);
  auto ci = db_.prepare("SELECT ci_result FROM events WHERE task_id = ?1 AND "
                        "ci_result IS NOT NULL ORDER BY id DESC LIMIT 1");
  ci->bind(1, task_id);
  if (ci->step())
    x.last_ci_result = ci->text(0);
  auto human = db_.prepare(
      "SELECT CAST((julianday(brd_review_ended_at) - "
      "julianday(brd_review_started_at)) * 86400 AS INTEGER) FROM tasks "
      "WHERE id = ?1 AND brd_review_ended_at IS NOT NULL");
  human->bind(1, task_id);
  if (human->step() && !human->is_null(0))
    x.human_review_s = human->int64(0);
  x.jobs = jobs_of_task(task_id);
  for (auto [sql, out] :
       {std::pair{"SELECT depends_on_task_id FROM job_deps WHERE task_id = ?1 "
                  "ORDER BY 1",
                  &x.depends_on},
        std::pair{"SELECT task_id FROM job_deps WHERE depends_on_task_id = ?1 "
                  "ORDER BY 1",
                  &x.dependents}}) {
    auto q = db_.prepare(sql);
    q->bind(1, task_id);
    while (q->step())
      out->push_back(q->int64(0));
  }
  x.open_cards = open_tracker_cards(task_id);
  x.budget = budget_of(task_id, x.runs);
  return x;
}

} // namespace orchd::storage
