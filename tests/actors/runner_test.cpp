// The runner actor with a real child process, a real storage actor and the
// real child watcher. The agent's exit comes from the watcher's io thread,
// which CAF's deterministic scheduler cannot host, so these run on CAF's
// own scheduler and wait on messages and rows.
#include "actors/engine/runner.hpp"

#include "actors/os/child_process.hpp"
#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace orchd;
using orchd::test::sql_value;
using orchd::test::unbox;

namespace {

const std::string success_json =
    R"({"type":"result","subtype":"success","is_error":false,"result":"ok"})";

struct runner_fixture {
  test::temp_dir dir;
  std::string db_path = dir.file("o.db");
  std::shared_ptr<storage::database> db = test::open_db(db_path);
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  caf::scoped_actor self{sys};
  storage_actor storage =
      storage::spawn_storage(sys, test::open_db(db_path), false);
  std::shared_ptr<child_watcher> watcher = std::make_shared<child_watcher>();
  std::shared_ptr<runner_settings> settings =
      std::make_shared<runner_settings>();

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    register_types(cfg);
    return cfg;
  }

  runner_fixture() {
    settings->output_dir = dir.file("runs");
    settings->workspace_root = dir.file("work");
    settings->instance = "runner-test";
    settings->env = {"PATH=/usr/bin:/bin"};
    std::filesystem::create_directories(settings->output_dir);
  }

  ~runner_fixture() {
    self->send_exit(storage, caf::exit_reason::user_shutdown);
  }

  // A claimed job (running, attempt 1), as the scheduler hands it over.
  job_row claimed_job(caf::optional<int64_t> task = caf::none) {
    storage::store st{*db};
    new_job j;
    j.agent = "developer";
    j.repo = "r";
    j.task_id = task;
    j.task_content = "do it";
    unbox(st.enqueue(j));
    return unbox(st.claim_next_job({}));
  }

  // The runner reports to this test's own actor, standing in for the
  // scheduler.
  runner_actor start(const job_row& job, const std::string& script) {
    agent_config agent;
    agent.program = "/bin/sh";
    agent.args = {"-c", script};
    agent.timeout_s = 60;
    return spawn_runner(sys, storage, caf::actor_cast<scheduler_actor>(self),
                        watcher, settings, job, agent);
  }
};

} // namespace

TEST_CASE_FIXTURE(runner_fixture, "a runner records its run, stamps the pid "
                                  "and reports the outcome once") {
  auto job = claimed_job();
  start(job, "cat > task.seen; echo '" + success_json + "'");
  run_report report;
  self->receive([&](atom::finish, const run_report& r) { report = r; },
                caf::after(std::chrono::seconds(60)) >>
                    [] { FAIL("the runner never reported"); });
  CHECK(report.job_id == job.id);
  CHECK(report.outcome == run_kind::success);
  REQUIRE(report.run_id > 0);
  auto run = std::to_string(report.run_id);
  CHECK(sql_value(*db, "SELECT outcome, exit_code, job_id FROM agent_runs "
                       "WHERE id = " +
                           run) == "success|0|" + std::to_string(job.id));
  CHECK(sql_value(*db, "SELECT pid IS NOT NULL, run_id FROM jobs") ==
        "1|" + run);
  // The agent read its task file on stdin, in the job's folder.
  std::ifstream seen{dir.file("work/task.seen")};
  std::string text{std::istreambuf_iterator<char>{seen}, {}};
  CHECK(text == "do it");
  // Nothing more comes: one report per runner.
  self->receive(
      [](atom::finish, const run_report&) { FAIL("a second report"); },
      caf::after(std::chrono::milliseconds(200)) >> [] {});
}

TEST_CASE_FIXTURE(runner_fixture, "a runner that dies takes its agent's "
                                  "process group with it") {
  auto job = claimed_job();
  auto runner =
      start(job, "sleep 300 & echo $! > child.pid; echo $$ > leader.pid; wait");
  auto child_file = dir.file("work/child.pid");
  REQUIRE(test::eventually([&] {
    return std::filesystem::exists(child_file) &&
           sql_value(*db, "SELECT pid IS NOT NULL FROM jobs") == "1";
  }));
  auto read_pid = [](const std::string& path) {
    std::ifstream in{path};
    int64_t pid = 0;
    in >> pid;
    return pid;
  };
  // Written by the shell right after the child's: wait for both.
  REQUIRE(test::eventually(
      [&] { return read_pid(dir.file("work/leader.pid")) > 0; }));
  auto child = read_pid(child_file);
  auto leader = read_pid(dir.file("work/leader.pid"));
  REQUIRE(process_alive(child));
  // As if the runner threw: it dies without reporting.
  self->send_exit(runner, caf::exit_reason::kill);
  CHECK(test::eventually([&] { return !process_alive(child); }));
  CHECK(test::eventually([&] { return !process_alive(leader); }));
}

TEST_CASE_FIXTURE(runner_fixture, "a task whose setup failed has no worktree "
                                  "to wait for: the run is a fault naming it") {
  storage::store st{*db};
  auto task =
      unbox(st.create_task(new_task{"p-1", "ET-001", "r", "b", "T"})).task.id;
  unbox(st.set_stage(task, task_stage::setup_failed));
  auto job = claimed_job(task);
  start(job, "echo never");
  run_report report;
  self->receive([&](atom::finish, const run_report& r) { report = r; },
                caf::after(std::chrono::seconds(60)) >>
                    [] { FAIL("the runner never reported"); });
  CHECK(report.outcome == run_kind::fault);
  CHECK(report.error.find("could not be made") != std::string::npos);
  CHECK(report.error.find("ET-001") != std::string::npos);
}
