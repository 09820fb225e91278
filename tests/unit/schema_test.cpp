// Opening the Python orchestrator's database at its first and last levels,
// a newer orchd's file, and damaged files.
#include "storage/schema.hpp"

#include "tests/support/test.hpp"

#include <sqlite3.h>

#include <fstream>
#include <sstream>

using namespace orchd;
using orchd::test::sql_rows;

namespace {

// The legacy file as the Python orchestrator created it, level 1: the four
// original tables and one index, written independently of orchd's DDL.
constexpr const char* python_level_1 = R"sql(
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT,
  timestamp TEXT DEFAULT (datetime('now')), source TEXT NOT NULL,
  event_type TEXT NOT NULL, payload TEXT NOT NULL, processed INTEGER DEFAULT 0);
CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, plane_id TEXT,
  work_item_id TEXT, repo TEXT NOT NULL, branch TEXT,
  stage TEXT DEFAULT 'created', agent_running TEXT,
  created_at TEXT DEFAULT (datetime('now')),
  updated_at TEXT DEFAULT (datetime('now')), plane_issue_id TEXT);
CREATE TABLE agent_runs (id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id INTEGER REFERENCES tasks(id), agent TEXT NOT NULL,
  started_at TEXT DEFAULT (datetime('now')), finished_at TEXT,
  exit_code INTEGER, output_path TEXT);
CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,
  repo TEXT NOT NULL, task_id INTEGER, task_content TEXT,
  status TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 2, run_id INTEGER, error TEXT,
  created_at TEXT DEFAULT (datetime('now')), started_at TEXT,
  finished_at TEXT);
CREATE INDEX idx_jobs_status ON jobs(status, id);
INSERT INTO tasks (plane_id, work_item_id, repo, branch, stage, plane_issue_id)
  VALUES ('p-1', 'ET-001', 'acme/widgets', 'agent/ET-001', 'development', 'p-1'),
         ('p-2', 'ET-002', 'acme/widgets', 'agent/ET-002', 'done', 'p-2');
INSERT INTO events (source, event_type, payload, processed)
  VALUES ('plane', 'issue', '{"a":1}', 1), ('github', 'check_run', '{}', 0);
INSERT INTO agent_runs (task_id, agent, finished_at, exit_code, output_path)
  VALUES (1, 'developer', '2025-01-01 10:00:00', 0, 'runs/1.log');
INSERT INTO jobs (agent, repo, task_id, task_content, status, attempts, run_id,
                  error, started_at, finished_at)
  VALUES ('analyst', 'acme/widgets', 1, 'a', 'done', 1, 1, NULL,
          '2025-01-01 09:00:00', '2025-01-01 10:00:00'),
         ('developer', 'acme/widgets', 1, 'b', 'running', 1, NULL, NULL,
          '2025-01-01 11:00:00', NULL),
         ('reviewer', 'acme/widgets', 1, 'c', 'queued', 0, NULL, NULL, NULL,
          NULL),
         ('deployer', 'acme/widgets', 2, 'd', 'failed', 2, NULL, 'boom',
          '2025-01-01 12:00:00', '2025-01-01 12:05:00');
)sql";

// The later steps as the Python system applied them.
constexpr const char* python_later_steps = R"sql(
ALTER TABLE jobs ADD COLUMN transient_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN available_at TEXT;
ALTER TABLE jobs ADD COLUMN pid INTEGER;
ALTER TABLE events ADD COLUMN delivery_id TEXT;
CREATE UNIQUE INDEX idx_events_delivery ON events(delivery_id)
  WHERE delivery_id IS NOT NULL;
ALTER TABLE agent_runs ADD COLUMN input_tokens INTEGER;
ALTER TABLE agent_runs ADD COLUMN output_tokens INTEGER;
ALTER TABLE agent_runs ADD COLUMN cache_read_tokens INTEGER;
ALTER TABLE agent_runs ADD COLUMN cache_creation_tokens INTEGER;
ALTER TABLE agent_runs ADD COLUMN cost_usd REAL;
ALTER TABLE agent_runs ADD COLUMN model TEXT;
ALTER TABLE agent_runs ADD COLUMN effort TEXT;
ALTER TABLE tasks ADD COLUMN tracker_message_id INTEGER;
ALTER TABLE tasks ADD COLUMN title TEXT;
ALTER TABLE tasks ADD COLUMN brd_review_started_at TEXT;
ALTER TABLE tasks ADD COLUMN brd_review_ended_at TEXT;
CREATE TABLE job_deps (task_id INTEGER NOT NULL,
  depends_on_task_id INTEGER NOT NULL,
  created_at TEXT DEFAULT (datetime('now')),
  PRIMARY KEY (task_id, depends_on_task_id));
CREATE INDEX idx_job_deps_task ON job_deps(task_id);
CREATE INDEX idx_job_deps_depends ON job_deps(depends_on_task_id);
CREATE TABLE tracker_messages (task_id INTEGER NOT NULL,
  message_id INTEGER NOT NULL, created_at TEXT DEFAULT (datetime('now')),
  deleted_at TEXT, PRIMARY KEY (task_id, message_id));
CREATE INDEX idx_tracker_messages_open ON tracker_messages(task_id)
  WHERE deleted_at IS NULL;
CREATE TABLE repo_freeze (id INTEGER PRIMARY KEY AUTOINCREMENT,
  repo TEXT NOT NULL, frozen_at TEXT NOT NULL DEFAULT (datetime('now')),
  reason TEXT, work_item_id TEXT, cleared_at TEXT);
CREATE INDEX idx_repo_freeze_active ON repo_freeze(repo, cleared_at);
UPDATE jobs SET transient_attempts = 3, pid = 4242 WHERE status = 'running';
UPDATE events SET delivery_id = 'gh-1' WHERE source = 'github';
UPDATE agent_runs SET input_tokens = 10, cost_usd = 0.5, model = 'm';
UPDATE tasks SET title = 'Legacy title', tracker_message_id = 77;
INSERT INTO job_deps (task_id, depends_on_task_id) VALUES (1, 2);
INSERT INTO tracker_messages (task_id, message_id) VALUES (1, 77);
INSERT INTO repo_freeze (repo, reason) VALUES ('acme/widgets', 'DEGRADED');
)sql";

// Writes a file with the Python system's own journal mode and no
// user_version, through a plain connection.
void make_legacy_file(const std::string& path, bool later_steps) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  auto run = [&](const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "?";
      sqlite3_free(err);
      sqlite3_close(db);
      FAIL("legacy fixture: " << msg);
    }
  };
  run(python_level_1);
  if (later_steps)
    run(python_later_steps);
  sqlite3_close(db);
}

// Everything a migration could lose or change: every row of every table,
// every column, every index.
std::string snapshot(storage::database& db) {
  std::string out;
  for (auto table : {"events", "tasks", "agent_runs", "jobs", "job_deps",
                     "tracker_messages", "repo_freeze"}) {
    out += std::string{"== "} + table + "\n";
    out += sql_rows(db, std::string{"SELECT name, type, \"notnull\", "
                                    "dflt_value FROM pragma_table_info('"} +
                            table + "')");
    out +=
        sql_rows(db, std::string{"SELECT * FROM "} + table + " ORDER BY rowid");
  }
  out += sql_rows(db, "SELECT name, sql FROM sqlite_master WHERE type = "
                      "'index' ORDER BY name");
  out += sql_rows(db, "PRAGMA user_version");
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

storage::open_options options(const std::string& path) {
  storage::open_options opts;
  opts.path = path;
  return opts;
}

const char* every_column = R"(
  SELECT (SELECT COUNT(*) FROM pragma_table_info('jobs')),
         (SELECT COUNT(*) FROM pragma_table_info('events')),
         (SELECT COUNT(*) FROM pragma_table_info('agent_runs')),
         (SELECT COUNT(*) FROM pragma_table_info('tasks')),
         (SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'
            AND name IN ('idx_jobs_status', 'idx_events_delivery',
                         'idx_job_deps_task', 'idx_job_deps_depends',
                         'idx_tracker_messages_open',
                         'idx_repo_freeze_active', 'idx_tasks_plane',
                         'idx_tasks_repo_branch', 'idx_tasks_repo_stage',
                         'idx_events_body_key')),
         (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'
            AND name IN ('job_deps', 'tracker_messages', 'repo_freeze',
                         'stage_history', 'plane_outbox')))";

} // namespace

TEST_CASE("a fresh file gets the whole schema at the latest version") {
  test::temp_dir dir;
  auto db = test::open_db(dir.file("sub/fresh.db"));
  CHECK(storage::schema::detect_level(*db) == storage::schema::latest_version);
  CHECK(db->pragma_int("user_version") == storage::schema::latest_version);
  CHECK(sql_rows(*db, every_column) == "19|11|21|22|10|5\n");
  CHECK(sql_rows(*db, "PRAGMA journal_mode") == "wal\n");
  CHECK(sql_rows(*db, "PRAGMA foreign_keys") == "1\n");
  CHECK(sql_rows(*db, "PRAGMA synchronous") == "2\n");
}

TEST_CASE("a level-1 Python file opens, is upgraded and keeps every row") {
  test::temp_dir dir;
  auto path = dir.file("legacy.db");
  make_legacy_file(path, false);
  std::string before_rows;
  {
    auto db = test::open_db(path);
    CHECK(sql_rows(*db, every_column) == "19|11|21|22|10|5\n");
    CHECK(sql_rows(*db, "SELECT status, attempts, error, started_at, "
                        "finished_at, transient_attempts, available_at, pid "
                        "FROM jobs ORDER BY id") ==
          "done|1|NULL|2025-01-01 09:00:00|2025-01-01 "
          "10:00:00|0|NULL|NULL\n"
          "running|1|NULL|2025-01-01 11:00:00|NULL|0|NULL|NULL\n"
          "queued|0|NULL|NULL|NULL|0|NULL|NULL\n"
          "failed|2|boom|2025-01-01 12:00:00|2025-01-01 "
          "12:05:00|0|NULL|NULL\n");
    CHECK(sql_rows(*db, "SELECT source, payload, processed, delivery_id "
                        "FROM events ORDER BY id") ==
          "plane|{\"a\":1}|1|NULL\ngithub|{}|0|NULL\n");
    CHECK(sql_rows(*db, "SELECT plane_id, work_item_id, stage, title FROM "
                        "tasks ORDER BY id") ==
          "p-1|ET-001|development|NULL\np-2|ET-002|done|NULL\n");
    CHECK(sql_rows(*db, "SELECT agent, exit_code, output_path, model FROM "
                        "agent_runs") == "developer|0|runs/1.log|NULL\n");
    // The cost ledger starts with the runs already there.
    CHECK(sql_rows(*db, "SELECT kind, key, runs FROM cost_rollup WHERE "
                        "day = '*' ORDER BY kind") ==
          "agent|developer|1\nmodel||1\nproject|acme/widgets|1\nstage||1\n"
          "task|1|1\n");
    before_rows = snapshot(*db);
  }
  // A second open changes nothing.
  auto again = test::open_db(path);
  CHECK(snapshot(*again) == before_rows);
}

TEST_CASE("a Python file with every later step keeps its data as it was") {
  test::temp_dir dir;
  auto path = dir.file("legacy-full.db");
  make_legacy_file(path, true);
  auto db = test::open_db(path);
  CHECK(sql_rows(*db, every_column) == "19|11|21|22|10|5\n");
  CHECK(sql_rows(*db, "SELECT transient_attempts, pid FROM jobs WHERE "
                      "status = 'running'") == "3|4242\n");
  CHECK(sql_rows(*db, "SELECT delivery_id FROM events WHERE source = "
                      "'github'") == "gh-1\n");
  CHECK(sql_rows(*db, "SELECT title, tracker_message_id FROM tasks WHERE "
                      "id = 1") == "Legacy title|77\n");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM job_deps") == "1\n");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM tracker_messages") == "1\n");
  CHECK(sql_rows(*db, "SELECT repo, reason, cleared_at FROM repo_freeze") ==
        "acme/widgets|DEGRADED|NULL\n");
  CHECK(db->pragma_int("user_version") == storage::schema::latest_version);
}

TEST_CASE("level detection reads an unversioned file's tables and columns") {
  test::temp_dir dir;
  auto path = dir.file("partial.db");
  make_legacy_file(path, false);
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw,
                       "ALTER TABLE jobs ADD COLUMN transient_attempts "
                       "INTEGER NOT NULL DEFAULT 0; ALTER TABLE jobs ADD "
                       "COLUMN available_at TEXT; ALTER TABLE jobs ADD "
                       "COLUMN pid INTEGER;",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  {
    // Open without migrating: the level is read from the file itself.
    auto opts = options(path);
    opts.migrate = false;
    auto db = test::unbox(storage::database::open(opts));
    CHECK(storage::schema::detect_level(*db) == 3);
    CHECK(db->pragma_int("user_version") == 0);
  }
  auto db = test::open_db(path);
  CHECK(storage::schema::detect_level(*db) == storage::schema::latest_version);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM jobs") == "4\n");
}

TEST_CASE("a file from a newer orchd is refused and left untouched") {
  test::temp_dir dir;
  auto path = dir.file("newer.db");
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw,
                         "CREATE TABLE future (x); PRAGMA user_version = 99;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto bytes = read_file(path);
  auto db = storage::database::open(options(path));
  REQUIRE_FALSE(db);
  CHECK(db.error() == ec::storage_unusable);
  auto text = describe(db.error());
  CHECK(text.find("version 99") != std::string::npos);
  CHECK(text.find("newer orchd") != std::string::npos);
  CHECK(read_file(path) == bytes);
}

TEST_CASE("a damaged file is refused and left untouched") {
  test::temp_dir dir;
  auto path = dir.file("damaged.db");
  {
    auto db = test::open_db(path, "full");
    db->exec("PRAGMA journal_mode=DELETE");
    db->exec("CREATE TABLE filler (x TEXT)");
    for (int i = 0; i < 200; ++i)
      db->exec("INSERT INTO filler VALUES (hex(randomblob(200)))");
  }
  // Overwrite b-tree pages (headers included) in the middle with garbage.
  {
    std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(4096 * 3);
    std::string junk(4096 * 3, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto bytes = read_file(path);
  auto db = storage::database::open(options(path));
  REQUIRE_FALSE(db);
  CHECK(db.error() == ec::storage_unusable);
  CHECK(describe(db.error()).find("quick_check") != std::string::npos);
  CHECK(read_file(path) == bytes);
}

TEST_CASE("a file that is not a database is refused and left untouched") {
  test::temp_dir dir;
  auto path = dir.file("notes.db");
  {
    std::ofstream f{path};
    f << "these are somebody's notes, not a database\n";
  }
  auto db = storage::database::open(options(path));
  REQUIRE_FALSE(db);
  CHECK(db.error() == ec::storage_unusable);
  CHECK(read_file(path) == "these are somebody's notes, not a database\n");
}
