// The economics half of the store: the cost ledger (read from the rollup
// the schema's triggers keep), a task's budget, and the facts a budget
// hold is decided from.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

#include <algorithm>
#include <cmath>

namespace orchd::storage {

namespace {

// `YYYY-MM-DD`, a real calendar day or not: SQLite's date() says.
bool is_day(database& db, const std::string& text) {
  if (text.size() != 10)
    return false;
  auto q = db.prepare("SELECT date(?1) = ?1");
  q->bind(1, std::string_view{text});
  return q->step() && !q->is_null(0) && q->int64(0) == 1;
}

cost_line read_line(const statement& q) {
  cost_line x;
  x.key = q.text(0);
  x.runs = q.int64(1);
  x.priced_runs = q.int64(2);
  x.computed_runs = q.int64(3);
  x.input_tokens = q.int64(4);
  x.output_tokens = q.int64(5);
  x.cache_read_tokens = q.int64(6);
  x.cache_creation_tokens = q.int64(7);
  x.cost_usd = q.real(8);
  return x;
}

#define ORCHD_COST_SUMS                                                        \
  "SUM(runs), SUM(priced_runs), SUM(computed_runs), SUM(input_tokens), "       \
  "SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_creation_tokens), "   \
  "TOTAL(cost_usd)"

// Over all time the '*' rows are one per key (no grouping: a kind with
// 100,000 tasks is read in one pass and the top kept). A range (?2, ?3 the
// first and last day): a key whose runs all fall inside it (its '*' row's
// first and last day) is its '*' row; only the keys that run across an end
// of the range are summed from their day rows, found by key (the
// key-first index: a year's window has few such keys, and grouping walks
// the index in key order). Most tasks live a few days, so a year's range
// reads each task's one row instead of grouping all their days.
#define ORCHD_COST_COLUMNS                                                     \
  "key, runs, priced_runs, computed_runs, input_tokens, output_tokens, "       \
  "cache_read_tokens, cache_creation_tokens, cost_usd"
constexpr const char* all_time_sql =
    "SELECT " ORCHD_COST_COLUMNS " FROM cost_rollup WHERE kind = ?1 "
    "AND day = '*' AND runs > 0 ORDER BY cost_usd DESC, key LIMIT ?4";
constexpr const char* range_sql =
    "SELECT " ORCHD_COST_COLUMNS " FROM cost_rollup WHERE kind = ?1 "
    "AND day = '*' AND runs > 0 AND first_day >= ?2 AND last_day <= ?3 "
    "UNION ALL "
    "SELECT key, " ORCHD_COST_SUMS " FROM cost_rollup "
    "INDEXED BY idx_cost_rollup_key WHERE kind = ?1 "
    "AND day != '*' AND day >= ?2 AND day <= ?3 AND key IN ("
    " SELECT key FROM cost_rollup WHERE kind = ?1 AND day = '*'"
    " AND first_day <= ?3 AND last_day >= ?2"
    " AND (first_day < ?2 OR last_day > ?3)) "
    "GROUP BY key HAVING SUM(runs) > 0 ORDER BY 9 DESC, 1 LIMIT ?4";
constexpr const char* by_day_sql =
    "SELECT day, " ORCHD_COST_SUMS " FROM cost_rollup WHERE kind = 'agent' "
    "AND day != '*' AND day >= ?2 AND day <= ?3 GROUP BY day "
    "HAVING SUM(runs) > 0 ORDER BY day DESC LIMIT ?4";
constexpr const char* total_sql =
    "SELECT 'total', " ORCHD_COST_SUMS " FROM cost_rollup WHERE kind = 'agent' "
    "AND ((?1 = 1 AND day = '*') OR (?1 = 0 AND day != '*' AND day >= ?2 "
    "AND day <= ?3))";

} // namespace

caf::expected<cost_report> store::costs(const cost_query& x) {
  static const char* kinds[] = {"task",  "stage",   "agent",
                                "model", "project", "day"};
  if (std::find(std::begin(kinds), std::end(kinds), x.by) == std::end(kinds))
    return invalid("by must be task, stage, agent, model, project or day");
  for (auto* day : {&x.since, &x.until})
    if (!day->empty() && !is_day(db_, *day))
      return invalid("since and until are days, YYYY-MM-DD (got '" + *day +
                     "')");
  if (!x.since.empty() && !x.until.empty() && x.since > x.until)
    return invalid("since is after until");
  bool all_time = x.since.empty() && x.until.empty();
  auto since = x.since.empty() ? std::string{"0"} : x.since;
  auto until = x.until.empty() ? std::string{"9"} : x.until;
  cost_report out;
  out.query = x;
  auto q = db_.prepare(x.by == "day" ? by_day_sql
                       : all_time    ? all_time_sql
                                     : range_sql);
  q->bind(1, std::string_view{x.by});
  q->bind(2, std::string_view{since});
  q->bind(3, std::string_view{until});
  q->bind(4, int64_t{1000});
  while (q->step())
    out.lines.push_back(read_line(*q));
  auto t = db_.prepare(total_sql);
  t->bind(1, int64_t{all_time ? 1 : 0});
  t->bind(2, std::string_view{since});
  t->bind(3, std::string_view{until});
  if (t->step() && !t->is_null(1))
    out.total = read_line(*t);
  out.total.key = "total";
  return out;
}

std::vector<job_row> store::held_jobs() {
  auto q = db_.prepare("SELECT " ORCHD_JOB_COLUMNS " FROM jobs WHERE "
                       "status = 'queued' AND held IS NOT NULL ORDER BY id "
                       "LIMIT 100");
  std::vector<job_row> out;
  while (q->step())
    out.push_back(read_job(*q));
  return out;
}

task_budget store::budget_of(int64_t task_id,
                             const std::vector<run_row>& runs) {
  task_budget out;
  auto t = db_.prepare("SELECT budget_usd, COALESCE(budget_paused, '') FROM "
                       "tasks WHERE id = ?1");
  t->bind(1, task_id);
  if (t->step()) {
    out.budget_usd = t->opt_real(0);
    out.paused = t->text(1);
  }
  // By stage from the runs the caller read (oldest first), not a second
  // query over the same rows.
  for (auto& r : runs) {
    auto line =
        std::find_if(out.by_stage.begin(), out.by_stage.end(),
                     [&](const cost_line& l) { return l.key == r.stage; });
    if (line == out.by_stage.end())
      line = out.by_stage.insert(out.by_stage.end(), cost_line{r.stage});
    auto& u = r.usage;
    ++line->runs;
    line->input_tokens += u.input_tokens.value_or(0);
    line->output_tokens += u.output_tokens.value_or(0);
    line->cache_read_tokens += u.cache_read_tokens.value_or(0);
    line->cache_creation_tokens += u.cache_creation_tokens.value_or(0);
    if (u.cost_usd) {
      ++line->priced_runs;
      line->computed_runs += r.cost_computed ? 1 : 0;
      line->cost_usd += *u.cost_usd;
    }
  }
  return out;
}

caf::expected<int64_t> store::set_budget(const budget_change& x) {
  if (!std::isfinite(x.budget_usd) || x.budget_usd <= 0)
    return invalid("budget_usd must be a positive number of dollars");
  if (auto task = task_by_id(x.task_id); !task)
    return task.error();
  auto t = db_.prepare("UPDATE tasks SET budget_usd = ?2, budget_paused = NULL "
                       "WHERE id = ?1");
  t->bind(1, x.task_id);
  t->bind(2, x.budget_usd);
  t->step();
  auto j = db_.prepare("UPDATE jobs SET held = NULL, held_until = NULL "
                       "WHERE task_id = ?1 AND held IS NOT NULL");
  j->bind(1, x.task_id);
  j->step();
  auto released = db_.changes();
  log::info("orchd.storage: task ", x.task_id, ": budget set to $",
            x.budget_usd, ", ", released, " held jobs released");
  return released;
}

caf::optional<job_hold> store::hold_if_over_budget(const job_row& job,
                                                   const claim_options& opts) {
  if (!hold_rule_ || !job.task_id)
    return caf::none;
  auto project =
      std::find_if(opts.budgets.begin(), opts.budgets.end(),
                   [&](const project_budget& b) { return b.repo == job.repo; });
  budget_facts facts;
  std::string paused;
  {
    auto t = db_.prepare("SELECT budget_usd, budget_paused FROM tasks "
                         "WHERE id = ?1");
    t->bind(1, *job.task_id);
    if (!t->step())
      return caf::none;
    facts.budget = t->opt_real(0);
    paused = t->text(1);
  }
  if (!facts.budget && project != opts.budgets.end() && project->budget_usd > 0)
    facts.budget = project->budget_usd;
  if (project != opts.budgets.end() && project->daily_budget_usd > 0)
    facts.daily_budget = project->daily_budget_usd;
  if (!facts.budget && !facts.daily_budget)
    return caf::none;
  auto spent =
      db_.prepare("SELECT TOTAL(cost_usd) FROM agent_runs WHERE task_id = ?1");
  spent->bind(1, *job.task_id);
  spent->step();
  facts.spent = spent->real(0);
  // The agent's newest priced runs in this project.
  auto recent = db_.prepare(
      "SELECT r.cost_usd FROM agent_runs r JOIN tasks t ON t.id = r.task_id "
      "WHERE r.agent = ?1 AND t.repo = ?2 AND r.cost_usd IS NOT NULL "
      "ORDER BY r.id DESC LIMIT 20");
  recent->bind(1, std::string_view{job.agent});
  recent->bind(2, std::string_view{job.repo});
  while (recent->step())
    facts.recent.push_back(recent->real(0));
  if (facts.daily_budget) {
    // The project's day: midnight in its zone, as UTC text.
    auto day =
        db_.prepare("SELECT datetime('now', ?1 || ' seconds', 'start of day', "
                    "(-?1) || ' seconds'), datetime('now', ?1 || ' seconds', "
                    "'start of day', '+1 day', (-?1) || ' seconds')");
    day->bind(1, project->utc_offset_s);
    day->step();
    auto start = day->text(0);
    facts.next_midnight = day->text(1);
    auto today = db_.prepare(
        "SELECT TOTAL(r.cost_usd) FROM agent_runs r JOIN tasks t ON "
        "t.id = r.task_id WHERE r.started_at >= ?1 AND t.repo = ?2");
    today->bind(1, std::string_view{start});
    today->bind(2, std::string_view{job.repo});
    today->step();
    facts.spent_today = today->real(0);
  }
  auto hold = hold_rule_(facts);
  if (!hold)
    return caf::none;
  auto h = db_.prepare("UPDATE jobs SET held = ?2, held_until = ?3 "
                       "WHERE id = ?1 AND status = 'queued'");
  h->bind(1, job.id);
  h->bind(2, std::string_view{hold->reason});
  h->bind_text_or_null(3, hold->until);
  h->step();
  log::info("orchd.storage: job ", job.id, " held: ", hold->reason,
            hold->until.empty() ? "" : ", until " + hold->until + " UTC");
  if (paused.empty()) {
    // The task's pause is said once, until a budget lifts it.
    auto p = db_.prepare("UPDATE tasks SET budget_paused = ?2 WHERE id = ?1");
    p->bind(1, *job.task_id);
    p->bind(2, std::string_view{hold->reason});
    p->step();
    log::warn("orchd.storage: task ", *job.task_id,
              " paused for budget: ", hold->reason);
    queue_plane_call(*job.task_id, "comment",
                     "orchd paused this work item: " + hold->reason +
                         (hold->until.empty()
                              ? ". Raise its budget to go on (POST "
                                "/tasks/" +
                                    std::to_string(*job.task_id) + "/budget)."
                              : ". It goes on at " + hold->until + " UTC."));
  }
  return hold;
}

} // namespace orchd::storage
