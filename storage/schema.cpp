#include "storage/schema.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/database.hpp"

#include <string>
#include <vector>

namespace orchd::storage::schema {

namespace {

// -- level 1: the original four tables --------------------------------------

constexpr const char* level_1_ddl = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT DEFAULT (datetime('now')),
  source TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payload TEXT NOT NULL,
  processed INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  plane_id TEXT,
  work_item_id TEXT,
  repo TEXT NOT NULL,
  branch TEXT,
  stage TEXT DEFAULT 'created',
  agent_running TEXT,
  created_at TEXT DEFAULT (datetime('now')),
  updated_at TEXT DEFAULT (datetime('now')),
  plane_issue_id TEXT
);
CREATE TABLE IF NOT EXISTS agent_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER REFERENCES tasks(id),
  agent TEXT NOT NULL,
  started_at TEXT DEFAULT (datetime('now')),
  finished_at TEXT,
  exit_code INTEGER,
  output_path TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent TEXT NOT NULL,
  repo TEXT NOT NULL,
  task_id INTEGER,
  task_content TEXT,
  status TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 2,
  run_id INTEGER,
  error TEXT,
  created_at TEXT DEFAULT (datetime('now')),
  started_at TEXT,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_jobs_status ON jobs(status, id);
)sql";

// -- levels 2 to 15: each a set of columns, then DDL ------------------------

// The cost ledger: every run's tokens and cost, summed by kind of key
// (agent, model, stage, task, project) per UTC day of its start and over
// all time (day '*'). GET /costs reads these few rows, not a million runs.
// Triggers keep it: an insert adds the run, an update takes the old row
// out and puts the new one in (a model the result names, a cost set at
// the end), a delete takes it out, so it never drifts from agent_runs
// whatever writes them.
const char* cost_ledger_ddl() {
  static const std::string ddl = [] {
    struct kind {
      const char* name;
      const char* key; // over the row `R` (NEW or OLD)
    };
    const kind kinds[] = {
        {"agent", "R.agent"},
        {"model", "COALESCE(R.model, '')"},
        {"stage", "COALESCE(R.stage, '')"},
        {"task", "COALESCE(CAST(R.task_id AS TEXT), '')"},
        {"project",
         "COALESCE((SELECT t.repo FROM tasks t WHERE t.id = R.task_id), "
         "(SELECT j.repo FROM jobs j WHERE j.id = R.job_id), '')"},
    };
    auto with = [](std::string text, const char* row) {
      for (size_t at; (at = text.find("R.")) != std::string::npos;)
        text.replace(at, 1, row);
      return text;
    };
    constexpr const char* run_day = "COALESCE(substr(R.started_at, 1, 10), '')";
    // One upsert of a row's values into one kind's day (or '*') row; a '*'
    // row also keeps the first and last day its key ran (`span`: the run's
    // day there, NULL on day rows), which only ever widens.
    auto upsert = [&](const kind& k, const std::string& day,
                      const std::string& span, const char* row,
                      const char* sign) {
      std::string values =
          std::string{"'"} + k.name + "', " + day + ", " + k.key + ", " + sign +
          "1, " + sign + "(R.cost_usd IS NOT NULL), " + sign +
          "(R.cost_usd IS NOT NULL AND R.cost_computed != 0), " + sign +
          "COALESCE(R.input_tokens, 0), " + sign +
          "COALESCE(R.output_tokens, 0), " + sign +
          "COALESCE(R.cache_read_tokens, 0), " + sign +
          "COALESCE(R.cache_creation_tokens, 0), " + sign +
          "COALESCE(R.cost_usd, 0), " + span + ", " + span;
      return with("INSERT INTO cost_rollup VALUES (" + values +
                      ") ON CONFLICT (kind, day, key) DO UPDATE SET "
                      "runs = runs + excluded.runs, "
                      "priced_runs = priced_runs + excluded.priced_runs, "
                      "computed_runs = computed_runs + excluded.computed_runs, "
                      "input_tokens = input_tokens + excluded.input_tokens, "
                      "output_tokens = output_tokens + excluded.output_tokens, "
                      "cache_read_tokens = cache_read_tokens + "
                      "excluded.cache_read_tokens, "
                      "cache_creation_tokens = cache_creation_tokens + "
                      "excluded.cache_creation_tokens, "
                      "cost_usd = cost_usd + excluded.cost_usd, "
                      "first_day = MIN(first_day, excluded.first_day), "
                      "last_day = MAX(last_day, excluded.last_day);\n",
                  row);
    };
    auto all = [&](const char* row, const char* sign) {
      std::string out;
      for (auto& k : kinds) {
        out += upsert(k, with(run_day, row), "NULL", row, sign);
        out += upsert(k, "'*'", with(run_day, row), row, sign);
      }
      return out;
    };
    std::string out = R"sql(
CREATE TABLE IF NOT EXISTS cost_rollup (
  kind TEXT NOT NULL,
  day TEXT NOT NULL,
  key TEXT NOT NULL,
  runs INTEGER NOT NULL,
  priced_runs INTEGER NOT NULL,
  computed_runs INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL,
  cache_creation_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  first_day TEXT,
  last_day TEXT,
  PRIMARY KEY (kind, day, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_cost_rollup_key ON cost_rollup(kind, key, day);
CREATE INDEX IF NOT EXISTS idx_agent_runs_agent ON agent_runs(agent, id);
CREATE INDEX IF NOT EXISTS idx_agent_runs_started ON agent_runs(started_at);
CREATE INDEX IF NOT EXISTS idx_jobs_held ON jobs(task_id)
  WHERE held IS NOT NULL;
)sql";
    // The runs already there, once (the triggers do not exist yet).
    for (auto& k : kinds)
      for (bool all_time : {false, true})
        out += with(std::string{"INSERT INTO cost_rollup SELECT '"} + k.name +
                        "', " + (all_time ? "'*'" : run_day) + ", " + k.key +
                        ", COUNT(*), COUNT(R.cost_usd), "
                        "SUM(R.cost_usd IS NOT NULL AND R.cost_computed != 0), "
                        "TOTAL(R.input_tokens), TOTAL(R.output_tokens), "
                        "TOTAL(R.cache_read_tokens), "
                        "TOTAL(R.cache_creation_tokens), TOTAL(R.cost_usd), " +
                        (all_time ? std::string{"MIN("} + run_day + "), MAX(" +
                                        run_day + ")"
                                  : std::string{"NULL, NULL"}) +
                        " FROM agent_runs r WHERE NOT EXISTS (SELECT 1 FROM "
                        "sqlite_master WHERE name = "
                        "'trg_agent_runs_cost_update') GROUP BY 2, 3 "
                        "ON CONFLICT DO NOTHING;\n",
                    "r");
    out += "CREATE TRIGGER IF NOT EXISTS trg_agent_runs_cost_insert AFTER "
           "INSERT ON agent_runs BEGIN\n" +
           all("NEW", "") + "END;\n";
    out += "CREATE TRIGGER IF NOT EXISTS trg_agent_runs_cost_delete AFTER "
           "DELETE ON agent_runs BEGIN\n" +
           all("OLD", "-") + "END;\n";
    out += "CREATE TRIGGER IF NOT EXISTS trg_agent_runs_cost_update AFTER "
           "UPDATE OF task_id, agent, started_at, input_tokens, output_tokens, "
           "cache_read_tokens, cache_creation_tokens, cost_usd, model, stage, "
           "cost_computed ON agent_runs BEGIN\n" +
           all("OLD", "-") + all("NEW", "") + "END;\n";
    return out;
  }();
  return ddl.c_str();
}

struct column {
  const char* table;
  const char* name;
  const char* declaration;
};

struct step {
  int64_t level;
  std::vector<column> columns;
  // Idempotent DDL run after the columns exist (may be empty).
  const char* ddl;
  // A table or index whose presence shows the step ran (nullptr: columns).
  const char* marker;
};

const step steps[] = {
    {2,
     {{"jobs", "transient_attempts", "INTEGER NOT NULL DEFAULT 0"},
      {"jobs", "available_at", "TEXT"}},
     "",
     nullptr},
    {3, {{"jobs", "pid", "INTEGER"}}, "", nullptr},
    {4,
     {{"events", "delivery_id", "TEXT"}},
     "CREATE UNIQUE INDEX IF NOT EXISTS idx_events_delivery ON "
     "events(delivery_id) WHERE delivery_id IS NOT NULL;",
     "idx_events_delivery"},
    {5,
     {{"agent_runs", "input_tokens", "INTEGER"},
      {"agent_runs", "output_tokens", "INTEGER"},
      {"agent_runs", "cache_read_tokens", "INTEGER"},
      {"agent_runs", "cache_creation_tokens", "INTEGER"},
      {"agent_runs", "cost_usd", "REAL"},
      {"agent_runs", "model", "TEXT"},
      {"agent_runs", "effort", "TEXT"}},
     "",
     nullptr},
    {6,
     {{"tasks", "tracker_message_id", "INTEGER"},
      {"tasks", "title", "TEXT"},
      {"tasks", "brd_review_started_at", "TEXT"},
      {"tasks", "brd_review_ended_at", "TEXT"}},
     "",
     nullptr},
    {7,
     {},
     R"sql(
CREATE TABLE IF NOT EXISTS job_deps (
  task_id INTEGER NOT NULL,
  depends_on_task_id INTEGER NOT NULL,
  created_at TEXT DEFAULT (datetime('now')),
  PRIMARY KEY (task_id, depends_on_task_id)
);
CREATE INDEX IF NOT EXISTS idx_job_deps_task ON job_deps(task_id);
CREATE INDEX IF NOT EXISTS idx_job_deps_depends ON job_deps(depends_on_task_id);
)sql",
     "job_deps"},
    {8,
     {},
     R"sql(
CREATE TABLE IF NOT EXISTS tracker_messages (
  task_id INTEGER NOT NULL,
  message_id INTEGER NOT NULL,
  created_at TEXT DEFAULT (datetime('now')),
  deleted_at TEXT,
  PRIMARY KEY (task_id, message_id)
);
CREATE INDEX IF NOT EXISTS idx_tracker_messages_open
  ON tracker_messages(task_id) WHERE deleted_at IS NULL;
)sql",
     "tracker_messages"},
    {9,
     {},
     R"sql(
CREATE TABLE IF NOT EXISTS repo_freeze (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  repo TEXT NOT NULL,
  frozen_at TEXT NOT NULL DEFAULT (datetime('now')),
  reason TEXT,
  work_item_id TEXT,
  cleared_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_repo_freeze_active
  ON repo_freeze(repo, cleared_at);
)sql",
     "repo_freeze"},
    {10,
     {{"events", "task_id", "INTEGER"},
      {"events", "ci_branch", "TEXT"},
      {"events", "ci_result", "TEXT"}},
     R"sql(
CREATE TABLE IF NOT EXISTS orchd_meta (key TEXT PRIMARY KEY, value TEXT);
INSERT OR IGNORE INTO orchd_meta (key, value)
  SELECT 'replay_from_event_id', COALESCE(MAX(id), 0) FROM events;
)sql",
     "orchd_meta"},
    // orchd's runner: which job a run served and how it was classified, so
    // the reaper can finalise a job from its run after the runner is gone.
    {11,
     {{"agent_runs", "job_id", "INTEGER"},
      {"agent_runs", "outcome", "TEXT"},
      {"agent_runs", "error", "TEXT"},
      {"agent_runs", "retry_after_s", "INTEGER"}},
     "",
     nullptr},
    // Lookups by Plane id, by branch (CI results) and the serial gate's
    // per-repo scan, which the legacy schema left to full table scans.
    {12,
     {},
     R"sql(
CREATE INDEX IF NOT EXISTS idx_tasks_plane ON tasks(plane_id);
CREATE INDEX IF NOT EXISTS idx_tasks_repo_branch ON tasks(repo, branch);
CREATE INDEX IF NOT EXISTS idx_tasks_repo_stage ON tasks(repo, stage);
)sql",
     "idx_tasks_repo_stage"},
    // Restarts of orchd that interrupted a job, counted apart from its
    // code-fault attempts and bounded on their own; the events still to
    // handle, which intake sweeps periodically, without a full scan.
    {13,
     {{"jobs", "interruptions", "INTEGER NOT NULL DEFAULT 0"}},
     "CREATE INDEX IF NOT EXISTS idx_events_unhandled ON events(source, id) "
     "WHERE processed = 0;",
     "idx_events_unhandled"},
    // GitHub events keyed also by (kind, body): a replay of a signed body
    // under a new delivery id is a duplicate.
    {14,
     {{"events", "body_key", "TEXT"}},
     "CREATE UNIQUE INDEX IF NOT EXISTS idx_events_body_key ON "
     "events(body_key) WHERE body_key IS NOT NULL;",
     "idx_events_body_key"},
    // The pipeline: what a task waits for, the sha its CI result must name,
    // its bounded fix rounds and why it is stuck; every stage change; and
    // the Plane calls its transitions queued (sent in the background, so a
    // restart drops none and a Plane outage blocks no transition).
    {15,
     {{"tasks", "waiting", "TEXT"},
      {"tasks", "expected_sha", "TEXT"},
      {"tasks", "ci_failures", "INTEGER NOT NULL DEFAULT 0"},
      {"tasks", "review_rounds", "INTEGER NOT NULL DEFAULT 0"},
      {"tasks", "stuck_reason", "TEXT"}},
     R"sql(
CREATE TABLE IF NOT EXISTS stage_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER NOT NULL,
  from_stage TEXT,
  to_stage TEXT NOT NULL,
  at TEXT DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_stage_history_task ON stage_history(task_id, id);
CREATE TABLE IF NOT EXISTS plane_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  body TEXT NOT NULL,
  external_id TEXT NOT NULL UNIQUE,
  created_at TEXT DEFAULT (datetime('now')),
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at TEXT,
  sent_at TEXT,
  error TEXT
);
CREATE INDEX IF NOT EXISTS idx_plane_outbox_pending ON plane_outbox(id)
  WHERE sent_at IS NULL;
)sql",
     "idx_plane_outbox_pending"},
    // A Plane call Plane refused for good (the work item is gone, the key
    // may not write it): kept with its error, no longer tried. How often
    // the reconciler ran a task's stage job again (it is bounded).
    // Depends-On lines of a work item: each named work item, resolved to a
    // job_deps edge once it has a task (the gate holds the task until
    // then).
    // A task's runs and CI results by task (GET /tasks/{id}), without a scan
    // of tables that grow for months.
    {16,
     {{"plane_outbox", "given_up_at", "TEXT"},
      {"tasks", "reconciles", "INTEGER NOT NULL DEFAULT 0"},
      {"agent_runs", "verdict", "TEXT"}},
     R"sql(
CREATE TABLE IF NOT EXISTS work_item_deps (
  task_id INTEGER NOT NULL,
  work_item_id TEXT NOT NULL,
  resolved_at TEXT,
  PRIMARY KEY (task_id, work_item_id)
);
CREATE INDEX IF NOT EXISTS idx_work_item_deps_open
  ON work_item_deps(work_item_id) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_agent_runs_task ON agent_runs(task_id, id);
CREATE INDEX IF NOT EXISTS idx_events_task_ci ON events(task_id, id)
  WHERE ci_result IS NOT NULL;
)sql",
     "idx_work_item_deps_open"},
    // Economics (issue 15): a run's stage and whether its cost was computed
    // from the price table; a task's budget and why it is paused; why a
    // queued job is held by a budget and until when; the cost ledger's
    // rollup (kept by triggers, filled from the runs already there).
    {17,
     {{"agent_runs", "stage", "TEXT"},
      {"agent_runs", "cost_computed", "INTEGER NOT NULL DEFAULT 0"},
      {"tasks", "budget_usd", "REAL"},
      {"tasks", "budget_paused", "TEXT"},
      {"jobs", "held", "TEXT"},
      {"jobs", "held_until", "TEXT"}},
     cost_ledger_ddl(),
     "trg_agent_runs_cost_update"},
};

bool has_object(database& db, const char* name) {
  auto q = db.prepare("SELECT 1 FROM sqlite_master WHERE name = ?1");
  q->bind(1, std::string_view{name});
  return q->step();
}

bool has_column(database& db, const char* table, const char* name) {
  auto q = db.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  q->bind(1, std::string_view{table});
  q->bind(2, std::string_view{name});
  return q->step();
}

bool step_present(database& db, const step& s) {
  for (auto& c : s.columns)
    if (!has_column(db, c.table, c.name))
      return false;
  return s.marker == nullptr || has_object(db, s.marker);
}

void apply(database& db, const step& s) {
  for (auto& c : s.columns) {
    if (has_column(db, c.table, c.name))
      continue;
    auto sql = std::string{"ALTER TABLE "} + c.table + " ADD COLUMN " + c.name +
               " " + c.declaration;
    db.exec(sql.c_str());
  }
  if (*s.ddl != '\0')
    db.exec(s.ddl);
}

} // namespace

int64_t detect_level(database& db) {
  for (auto table : {"events", "tasks", "agent_runs", "jobs"})
    if (!has_object(db, table))
      return 0;
  int64_t level = 1;
  for (auto& s : steps) {
    if (!step_present(db, s))
      break;
    level = s.level;
  }
  return level;
}

caf::error check_version(database& db) {
  auto version = db.pragma_int("user_version");
  if (version > latest_version)
    return caf::make_error(
        ec::storage_unusable,
        db.path() + ": the database has schema version " +
            std::to_string(version) + " but this orchd knows only up to " +
            std::to_string(latest_version) +
            "; it was written by a newer orchd, run that one (nothing was "
            "changed)");
  return caf::none;
}

caf::error migrate(database& db) {
  if (auto err = check_version(db))
    return err;
  if (db.pragma_int("user_version") == latest_version)
    return caf::none;
  auto found = detect_level(db);
  if (found == 0)
    log::info("orchd.storage: creating the schema in ", db.path());
  else
    log::info("orchd.storage: ", db.path(), " is at schema level ", found,
              ", upgrading to ", latest_version);
  // One transaction: a crash mid-upgrade leaves the file as it was.
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(level_1_ddl);
    for (auto& s : steps)
      apply(db, s);
    db.exec(
        ("PRAGMA user_version = " + std::to_string(latest_version)).c_str());
    db.exec("COMMIT");
  } catch (const sql_error& e) {
    if (db.in_transaction())
      db.exec("ROLLBACK");
    return caf::make_error(ec::storage_unusable,
                           db.path() + ": schema upgrade failed: " + e.what());
  }
  return caf::none;
}

} // namespace orchd::storage::schema
