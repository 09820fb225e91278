// The job queue: enqueue, the gated claim, status marks, the guarded reap.
#include "storage/store.hpp"

#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

struct jobs_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  claim_options gated;

  int64_t task(const std::string& plane_id, const std::string& repo,
               task_stage stage = task_stage::created) {
    auto t = unbox(st.create_task(new_task{plane_id, "", repo, "", ""})).task;
    if (stage != task_stage::created)
      unbox(st.set_stage(t.id, stage));
    return t.id;
  }

  int64_t job(const std::string& agent, const std::string& repo,
              caf::optional<int64_t> task_id = caf::none, int64_t delay = 0) {
    new_job x;
    x.agent = agent;
    x.repo = repo;
    x.task_id = task_id;
    x.task_content = "do it";
    x.delay_s = delay;
    return unbox(st.enqueue(x));
  }

  // The id of the claimed job, or 0 when nothing is claimable.
  int64_t claim(claim_options opts = {}) {
    auto j = st.claim_next_job(opts);
    if (!j) {
      REQUIRE(j.error() == ec::no_claimable_job);
      return 0;
    }
    return j->id;
  }
};

} // namespace

TEST_CASE_FIXTURE(jobs_fixture, "claim takes the oldest queued job") {
  auto a = job("developer", "r");
  auto b = job("developer", "r");
  auto claimed = unbox(st.claim_next_job({}));
  CHECK(claimed.id == a);
  CHECK(claimed.status == job_status::running);
  CHECK(claimed.attempts == 1);
  CHECK_FALSE(claimed.started_at.empty());
  CHECK(claim() == b);
  CHECK(claim() == 0);
  CHECK(st.running_count() == 2);
}

TEST_CASE_FIXTURE(jobs_fixture, "enqueue refuses bad jobs and stores nothing") {
  new_job x;
  x.agent = "developer";
  CHECK(st.enqueue(x).error() == ec::invalid_argument);
  x.repo = "r";
  x.max_attempts = 0;
  CHECK(st.enqueue(x).error() == ec::invalid_argument);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM jobs") == "0\n");
}

TEST_CASE_FIXTURE(jobs_fixture, "a delayed job waits for available_at") {
  auto delayed = job("deployer", "r", caf::none, 3600);
  auto now = job("developer", "r");
  CHECK_FALSE(unbox(st.job_by_id(delayed)).available_at.empty());
  CHECK(claim() == now);
  CHECK(claim() == 0);
  db->exec("UPDATE jobs SET available_at = datetime('now', '-1 seconds') "
           "WHERE agent = 'deployer'");
  CHECK(claim() == delayed);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "dependency gate holds a job until the other task is done") {
  auto blocker = task("p-1", "r", task_stage::development);
  auto waiting = task("p-2", "r", task_stage::development);
  unbox(st.add_dependency(waiting, blocker));
  auto j = job("developer", "r", waiting);
  auto free_job = job("developer", "other");
  CHECK(claim() == free_job);
  CHECK(claim() == 0);
  SUBCASE("switched off, the gate does not hold") {
    claim_options off;
    off.dependency_gate = false;
    CHECK(claim(off) == j);
  }
  SUBCASE("the gate opens when the blocker is done") {
    unbox(st.set_stage(blocker, task_stage::done));
    CHECK(claim() == j);
  }
}

TEST_CASE_FIXTURE(jobs_fixture, "serial gate: a frozen repo holds a new task's "
                                "analyst, not an active task's developer") {
  auto active = task("p-1", "acme/widgets", task_stage::development);
  auto fresh = task("p-2", "acme/widgets");
  unbox(st.set_stage(active, task_stage::done));
  unbox(st.freeze_repo("acme/widgets", "DEGRADED", "ET-001"));
  auto analyst = job("analyst", "acme/widgets", fresh);
  auto developer = job("developer", "acme/widgets", fresh);
  CHECK(claim() == developer);
  CHECK(claim() == 0);
  st.unfreeze_repo("acme/widgets");
  CHECK(claim() == analyst);
}

TEST_CASE_FIXTURE(
    jobs_fixture,
    "serial gate: an analyst waits for the repo's unfinished task") {
  auto in_flight = task("p-1", "r", task_stage::development);
  auto fresh = task("p-2", "r");
  auto analyst = job("analyst", "r", fresh);
  auto elsewhere = job("analyst", "other", task("p-3", "other"));
  CHECK(claim() == elsewhere);
  CHECK(claim() == 0);
  unbox(st.set_stage(in_flight, task_stage::done));
  CHECK(claim() == analyst);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "serial gate: two new tasks of a repo go oldest first") {
  auto older = task("p-1", "r");
  auto newer = task("p-2", "r");
  auto newer_job = job("analyst", "r", newer);
  auto older_job = job("analyst", "r", older);
  CHECK(claim() == older_job);
  CHECK(claim() == 0);
  unbox(st.set_stage(older, task_stage::done));
  CHECK(claim() == newer_job);
}

TEST_CASE_FIXTURE(jobs_fixture, "the serial gate holds the agents the "
                                "configuration names, bound, not spelled "
                                "in SQL") {
  auto in_flight = task("p-1", "r", task_stage::development);
  auto fresh = task("p-2", "r");
  auto analyst = job("analyst", "r", fresh);
  auto planner = job("planner", "r", fresh);
  claim_options opts;
  opts.serial_gate_agents = {"planner"};
  // The analyst is not gated now; the planner waits for the task ahead.
  CHECK(claim(opts) == analyst);
  CHECK(claim(opts) == 0);
  unbox(st.set_stage(in_flight, task_stage::done));
  CHECK(claim(opts) == planner);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "the serial gate opens when it cannot be evaluated") {
  auto in_flight = task("p-1", "r", task_stage::development);
  auto fresh = task("p-2", "r");
  auto analyst = job("analyst", "r", fresh);
  CHECK(claim() == 0);
  db->exec("DROP TABLE repo_freeze");
  CHECK(claim() == analyst);
  CHECK(in_flight > 0);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "mark job: done/failed stamp, queued clears times") {
  auto id = job("developer", "r");
  claim();
  CHECK(unbox(st.mark_job(
      job_mark{id, job_status::failed, 7, std::string{"boom"}, caf::none})));
  auto failed = unbox(st.job_by_id(id));
  CHECK(failed.status == job_status::failed);
  CHECK_FALSE(failed.finished_at.empty());
  CHECK(failed.run_id == caf::optional<int64_t>{7});
  CHECK(failed.error == "boom");
  CHECK(unbox(st.mark_job(
      job_mark{id, job_status::queued, caf::none, caf::none, caf::none})));
  auto queued = unbox(st.job_by_id(id));
  CHECK(queued.started_at.empty());
  CHECK(queued.finished_at.empty());
  CHECK(queued.error == "boom");
  CHECK(queued.run_id == caf::optional<int64_t>{7});
  CHECK_FALSE(unbox(st.mark_job(
      job_mark{999, job_status::done, caf::none, caf::none, caf::none})));
}

TEST_CASE_FIXTURE(jobs_fixture, "reap loses to a job already done") {
  auto id = job("developer", "r");
  claim();
  CHECK(unbox(st.mark_job(
      job_mark{id, job_status::done, caf::none, caf::none, caf::none})));
  CHECK_FALSE(unbox(st.finalise_job(job_mark{
      id, job_status::failed, caf::none, std::string{"reaped"}, caf::none})));
  auto row = unbox(st.job_by_id(id));
  CHECK(row.status == job_status::done);
  CHECK(row.error.empty());
  auto other = job("developer", "r");
  claim();
  CHECK(unbox(st.finalise_job(job_mark{other, job_status::queued, caf::none,
                                       std::string{"pid dead"}, caf::none})));
  CHECK(unbox(st.job_by_id(other)).status == job_status::queued);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "transient requeue counts separately and delays") {
  auto id = job("developer", "r");
  claim();
  CHECK(st.requeue_transient(
      transient_requeue{id, 20, std::string{"429"}, caf::none}));
  auto row = unbox(st.job_by_id(id));
  CHECK(row.status == job_status::queued);
  // The claim's attempt is given back: a rate limit is not a code fault.
  CHECK(row.attempts == 0);
  CHECK(row.transient_attempts == 1);
  CHECK(row.started_at.empty());
  CHECK(row.error == "429");
  CHECK(sql_rows(*db, "SELECT available_at > datetime('now', '+15 seconds') "
                      "FROM jobs") == "1\n");
  CHECK(claim() == 0);
}

TEST_CASE_FIXTURE(jobs_fixture, "active job of a task guards a second launch") {
  auto t = task("p-1", "r");
  CHECK_FALSE(st.has_active_job(t));
  auto id = job("analyst", "r", t);
  CHECK(st.has_active_job(t));
  claim();
  CHECK(st.has_active_job(t));
  unbox(st.mark_job(
      job_mark{id, job_status::done, caf::none, caf::none, caf::none}));
  CHECK_FALSE(st.has_active_job(t));
}

TEST_CASE_FIXTURE(jobs_fixture, "requeue running keeps attempts") {
  auto a = job("developer", "r");
  auto b = job("developer", "r");
  job("developer", "r");
  claim();
  claim();
  CHECK(st.requeue_running() == 2);
  for (auto id : {a, b}) {
    auto row = unbox(st.job_by_id(id));
    CHECK(row.status == job_status::queued);
    CHECK(row.attempts == 1);
    CHECK(row.started_at.empty());
  }
  CHECK(st.running_count() == 0);
}

TEST_CASE_FIXTURE(jobs_fixture, "running jobs carry their ages and run exit") {
  auto t = task("p-1", "r");
  auto id = job("developer", "r", t);
  claim();
  auto run = unbox(st.start_run(new_run{t, "developer", "", "", ""}));
  unbox(st.mark_job(
      job_mark{id, job_status::running, run, caf::none, caf::none}));
  db->exec("UPDATE jobs SET started_at = datetime('now', '-300 seconds')");
  auto before = st.running_jobs();
  REQUIRE(before.size() == 1);
  CHECK(before[0].running_age_s >= 299);
  CHECK_FALSE(before[0].exit_code);
  CHECK_FALSE(before[0].finished_age_s);
  run_outcome exited;
  exited.run_id = run;
  exited.exit_code = 3;
  unbox(st.finish_run(exited));
  db->exec("UPDATE agent_runs SET finished_at = datetime('now', '-60 "
           "seconds')");
  auto after = st.running_jobs();
  REQUIRE(after.size() == 1);
  CHECK(after[0].exit_code == caf::optional<int64_t>{3});
  REQUIRE(after[0].finished_age_s);
  CHECK(*after[0].finished_age_s >= 59);
}

TEST_CASE_FIXTURE(jobs_fixture, "counts always report the four statuses") {
  auto zero = st.count_jobs();
  CHECK(zero.queued + zero.running + zero.done + zero.failed == 0);
  auto a = job("developer", "r");
  job("developer", "r");
  job("developer", "r");
  claim();
  unbox(st.mark_job(
      job_mark{a, job_status::done, caf::none, caf::none, caf::none}));
  claim();
  auto counts = st.count_jobs();
  CHECK(counts.queued == 1);
  CHECK(counts.running == 1);
  CHECK(counts.done == 1);
  CHECK(counts.failed == 0);
  auto recent = st.recent_jobs(2);
  REQUIRE(recent.size() == 2);
  CHECK(recent[0].id > recent[1].id);
}

// -- the job engine's operations ---------------------------------------------

namespace {

// A claimed job with its run begun: (job id, run id).
std::pair<int64_t, int64_t> claimed_with_run(jobs_fixture& f) {
  auto id = f.job("developer", "r");
  REQUIRE(f.claim() == id);
  run_start start;
  start.job_id = id;
  start.run.agent = "developer";
  start.output_dir = "/var/runs";
  return {id, unbox(f.st.begin_run(start))};
}

} // namespace

TEST_CASE_FIXTURE(jobs_fixture, "begin_run makes the run and points the job "
                                "at it") {
  auto [id, run] = claimed_with_run(*this);
  auto j = unbox(st.job_by_id(id));
  CHECK(j.run_id == run);
  auto r = unbox(st.run_by_id(run));
  CHECK(r.output_path == "/var/runs/" + std::to_string(run) + ".log");
  CHECK(r.job_id == id);
  SUBCASE("not for a job that no longer runs") {
    unbox(st.mark_job(
        job_mark{id, job_status::failed, caf::none, caf::none, caf::none}));
    run_start again{id, new_run{caf::none, "developer", "", "", ""}, "/x"};
    auto refused = st.begin_run(again);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == ec::conflict);
  }
}

TEST_CASE_FIXTURE(jobs_fixture, "the pid stamp is guarded on the run") {
  auto [id, run] = claimed_with_run(*this);
  CHECK(unbox(st.stamp_pid(job_pid{id, run, 4242})));
  CHECK(unbox(st.job_by_id(id)).pid == int64_t{4242});
  CHECK_FALSE(unbox(st.stamp_pid(job_pid{id, run + 1, 1})));
  CHECK(unbox(st.job_by_id(id)).pid == int64_t{4242});
}

TEST_CASE_FIXTURE(jobs_fixture, "a finaliser of an old run loses to the "
                                "job's next run") {
  auto [id, run] = claimed_with_run(*this);
  // The reaper requeued it and it was claimed again with a new run.
  CHECK(unbox(st.finalise_job(
      job_mark{id, job_status::queued, caf::none, caf::none, run})));
  REQUIRE(claim() == id);
  run_start start{id, new_run{caf::none, "developer", "", "", ""}, "/x"};
  auto second = unbox(st.begin_run(start));
  // The first run's late report changes nothing.
  CHECK_FALSE(unbox(
      st.finalise_job(job_mark{id, job_status::done, run, caf::none, run})));
  transient_requeue late{id, 10, std::string{"429"}, run};
  CHECK_FALSE(st.requeue_transient(late));
  auto j = unbox(st.job_by_id(id));
  CHECK(j.status == job_status::running);
  CHECK(j.run_id == second);
  CHECK(unbox(st.finalise_job(
      job_mark{id, job_status::done, second, caf::none, second})));
}

TEST_CASE_FIXTURE(jobs_fixture, "a transient requeue is never due early") {
  auto [id, run] = claimed_with_run(*this);
  CHECK(st.requeue_transient(transient_requeue{id, 2, caf::none, run}));
  // available_at is rounded up to the next whole second past now + 2 s.
  CHECK(sql_rows(*db, "SELECT available_at >= datetime('now', '+2 seconds') "
                      "AND available_at <= datetime('now', '+3 seconds') "
                      "FROM jobs") == "1\n");
  auto ms = st.next_due_in_ms();
  REQUIRE(ms);
  CHECK(*ms >= 1000);
  CHECK(*ms <= 3000);
  CHECK(claim() == 0);
}

TEST_CASE_FIXTURE(jobs_fixture, "next due: none without held-back jobs") {
  CHECK_FALSE(st.next_due_in_ms());
  job("developer", "r");
  CHECK_FALSE(st.next_due_in_ms());
  job("developer", "r", caf::none, 60);
  auto ms = st.next_due_in_ms();
  REQUIRE(ms);
  CHECK(*ms > 58000);
  CHECK(*ms <= 60000);
}

TEST_CASE_FIXTURE(jobs_fixture, "cancel: queued or running only") {
  auto queued = job("developer", "r");
  auto running = job("developer", "r");
  REQUIRE(claim() == queued);
  CHECK(unbox(st.cancel_job(queued)));
  auto j = unbox(st.job_by_id(queued));
  CHECK(j.status == job_status::failed);
  CHECK(j.error == "cancelled");
  CHECK_FALSE(j.finished_at.empty());
  CHECK(unbox(st.cancel_job(running)));
  auto again = st.cancel_job(queued);
  REQUIRE_FALSE(again);
  CHECK(again.error() == ec::conflict);
  auto missing = st.cancel_job(999);
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::no_such_job);
}

TEST_CASE_FIXTURE(jobs_fixture,
                  "requeue of a failed job gives fresh attempts") {
  auto id = job("developer", "r");
  REQUIRE(claim() == id);
  unbox(st.mark_job(job_mark{id, job_status::failed, caf::none,
                             std::string{"boom"}, caf::none}));
  CHECK(unbox(st.requeue_failed(id)));
  auto j = unbox(st.job_by_id(id));
  CHECK(j.status == job_status::queued);
  CHECK(j.attempts == 0);
  CHECK(j.started_at.empty());
  auto not_failed = st.requeue_failed(id);
  REQUIRE_FALSE(not_failed);
  CHECK(not_failed.error() == ec::conflict);
  CHECK(st.requeue_failed(12345).error() == ec::no_such_job);
}

TEST_CASE_FIXTURE(jobs_fixture, "a project at its cap is skipped by the "
                                "claim") {
  auto a = job("developer", "busy");
  auto b = job("developer", "idle");
  claim_options opts;
  opts.excluded_repos = {"busy", "other \"quoted\""};
  CHECK(claim(opts) == b);
  CHECK(claim(opts) == 0);
  CHECK(claim() == a);
}

TEST_CASE_FIXTURE(jobs_fixture, "the operator's dependency edge: tasks must "
                                "exist, no self-edge, no cycle") {
  auto a = task("p-a", "r");
  auto b = task("p-b", "r");
  auto c = task("p-c", "r");
  CHECK(unbox(st.declare_dependency(a, b)));
  CHECK_FALSE(unbox(st.declare_dependency(a, b)));
  CHECK(unbox(st.declare_dependency(b, c)));
  auto self_edge = st.declare_dependency(a, a);
  REQUIRE_FALSE(self_edge);
  CHECK(self_edge.error() == ec::dependency_cycle);
  auto cycle = st.declare_dependency(c, a);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error() == ec::dependency_cycle);
  auto named = describe(cycle.error());
  CHECK(named == "the edge would close the cycle " + std::to_string(c) +
                     " -> " + std::to_string(a) + " -> " + std::to_string(b) +
                     " -> " + std::to_string(c));
  auto missing = st.declare_dependency(a, 999);
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::no_such_task);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM job_deps") == "2\n");
}

TEST_CASE_FIXTURE(jobs_fixture, "an interruption gives the attempt back, is "
                                "counted apart, and fails the job at the "
                                "last one allowed") {
  auto [id, run] = claimed_with_run(*this);
  interruption x{id, run, 2, "the daemon restarted", "interrupted twice"};
  // Guarded on the run: an old run's interruption changes nothing.
  auto old = x;
  old.expected_run_id = run + 1;
  CHECK_FALSE(unbox(st.requeue_interrupted(old)));
  CHECK(unbox(st.requeue_interrupted(x)));
  auto j = unbox(st.job_by_id(id));
  CHECK(j.status == job_status::queued);
  CHECK(j.attempts == 0);
  CHECK(j.interruptions == 1);
  CHECK(j.error == "the daemon restarted");
  CHECK(j.started_at.empty());
  // Claimed and interrupted again: the second of two allowed fails it.
  REQUIRE(claim() == id);
  x.expected_run_id = caf::none;
  CHECK(unbox(st.requeue_interrupted(x)));
  j = unbox(st.job_by_id(id));
  CHECK(j.status == job_status::failed);
  CHECK(j.error == "interrupted twice");
  CHECK(j.attempts == 0);
  CHECK(j.interruptions == 2);
  CHECK_FALSE(j.finished_at.empty());
  // Only a running job is interrupted.
  CHECK_FALSE(unbox(st.requeue_interrupted(x)));
}

TEST_CASE_FIXTURE(jobs_fixture, "a cancelled task is finished for the serial "
                                "gate; its queued jobs fail, its running "
                                "ones are named") {
  auto in_flight = task("p-1", "r", task_stage::development);
  auto running = job("developer", "r", in_flight);
  REQUIRE(claim() == running);
  // Queued, held back an hour.
  auto waiting = job("reviewer", "r", in_flight, 3600);
  auto fresh = task("p-2", "r");
  auto analyst = job("analyst", "r", fresh);
  CHECK(claim() == 0);
  CHECK(unbox(st.cancel_task(in_flight)) == std::vector<int64_t>{running});
  CHECK(unbox(st.job_by_id(waiting)).status == job_status::failed);
  CHECK(unbox(st.job_by_id(waiting)).error == "cancelled with its task");
  // The repo's next task may go now.
  CHECK(claim() == analyst);
  auto again = st.cancel_task(in_flight);
  REQUIRE_FALSE(again);
  CHECK(again.error() == ec::conflict);
  CHECK(st.cancel_task(999).error() == ec::no_such_task);
}
