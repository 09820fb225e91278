// The store's pipeline operations against a real SQLite file: a judged
// job's end in one write with its transition, the merge-lock defer,
// Depends-On work items, the Plane outbox and the reconciler's idle tasks.
#include "storage/store.hpp"

#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::sql_value;
using orchd::test::unbox;

namespace {

struct pipeline_store {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};

  // A work item's task and its first (analyst) job, as the creator makes
  // them; no serial gate in these tests' claims.
  task_row item(const std::string& plane_id, int64_t seq,
                std::vector<std::string> depends_on = {}) {
    work_item_request x;
    x.plane_id = plane_id;
    x.repo = "acme/widgets";
    x.prefix = "ET";
    x.sequence_id = seq;
    x.branch_prefix = "agent/";
    x.title = "Item " + std::to_string(seq);
    x.first_content = x.title;
    x.depends_on = std::move(depends_on);
    return unbox(st.create_work_item(x)).task;
  }

  caf::expected<job_row> claim() {
    claim_options opts;
    opts.serial_gate_agents.clear();
    return st.claim_next_job(opts);
  }

  std::string claimed_task() {
    auto job = claim();
    return job ? std::to_string(job->task_id.value_or(0)) : "none";
  }
};

stage_action finish(int64_t job, int64_t run) {
  stage_action a{stage_action::finish_job};
  a.job_id = job;
  a.run_id = run;
  return a;
}

} // namespace

TEST_CASE_FIXTURE(pipeline_store,
                  "a judged success ends the job and moves the task in one "
                  "write, or not at all") {
  auto t = item("p-1", 1);
  auto job = unbox(claim());
  auto run = unbox(st.start_run(new_run{t.id, "analyst", "", "", ""}));
  db->exec(("UPDATE jobs SET run_id = " + std::to_string(run)).c_str());
  // The task is not in 'architecture': nothing is written.
  auto moved = unbox(st.apply_transition(
      t.id, task_stage::architecture,
      {finish(job.id, run), {stage_action::set_stage, task_stage::review}}));
  CHECK_FALSE(moved.applied);
  CHECK(sql_value(*db, "SELECT status FROM jobs") == "running");
  // Another run of the job: the guard loses and the stage stays.
  auto lost = st.apply_transition(
      t.id, task_stage::created,
      {{stage_action::set_stage, task_stage::analysis}, finish(job.id, 99)});
  REQUIRE_FALSE(lost);
  CHECK(lost.error() == ec::conflict);
  CHECK(sql_value(*db, "SELECT stage FROM tasks") == "created");
  // Its run: done and analysis together.
  stage_action next{stage_action::enqueue};
  next.agent = "architect";
  next.text = "more";
  next.max_attempts = 5;
  auto won = unbox(
      st.apply_transition(t.id, task_stage::created,
                          {finish(job.id, run),
                           {stage_action::set_stage, task_stage::analysis},
                           next}));
  CHECK(won.applied);
  REQUIRE(won.enqueued.size() == 1);
  CHECK(sql_rows(*db, "SELECT agent, status, max_attempts, task_content FROM "
                      "jobs ORDER BY id") ==
        "analyst|done|2|Item 1\narchitect|queued|5|Item 1\n\nmore\n");
  CHECK(sql_rows(*db, "SELECT from_stage, to_stage FROM stage_history") ==
        "created|analysis\n");
}

TEST_CASE_FIXTURE(pipeline_store,
                  "a deferred job is back in the queue with its attempt") {
  auto t = item("p-1", 1);
  auto job = unbox(claim());
  CHECK(job.attempts == 1);
  stage_action defer{stage_action::defer_job};
  defer.job_id = job.id;
  defer.delay_s = 300;
  defer.text = "merge lock busy";
  CHECK(unbox(st.apply_transition(t.id, task_stage::created, {defer})).applied);
  CHECK(sql_value(*db, "SELECT status, attempts, error, available_at > "
                       "datetime('now', '+290 seconds') FROM jobs") ==
        "queued|0|merge lock busy|1");
  CHECK(claimed_task() == "none");
  // A second defer of a job no longer running loses.
  auto again = st.apply_transition(t.id, task_stage::created, {defer});
  REQUIRE_FALSE(again);
  CHECK(again.error() == ec::conflict);
}

TEST_CASE_FIXTURE(pipeline_store,
                  "Depends-On holds a task until the named work item's task "
                  "is done, even one that has no task yet") {
  auto a = item("p-a", 1);
  // ET-002 waits for ET-001 (a task) and ET-003 (none yet).
  auto b = item("p-b", 2, {"ET-001", "ET-003"});
  CHECK(sql_rows(*db, "SELECT task_id, depends_on_task_id FROM job_deps") ==
        std::to_string(b.id) + "|" + std::to_string(a.id) + "\n");
  CHECK(claimed_task() == std::to_string(a.id));
  CHECK(claimed_task() == "none");
  unbox(st.set_stage(a.id, task_stage::done));
  // ET-003 has no task: ET-002 still waits.
  CHECK(claimed_task() == "none");
  auto c = item("p-c", 3);
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM work_item_deps WHERE "
                       "resolved_at IS NULL") == "0");
  CHECK(claimed_task() == std::to_string(c.id));
  CHECK(claimed_task() == "none");
  unbox(st.set_stage(c.id, task_stage::done));
  CHECK(claimed_task() == std::to_string(b.id));
}

TEST_CASE_FIXTURE(pipeline_store,
                  "a Depends-On cycle is left out and said on the work item") {
  // ET-001 names ET-002 before it exists; ET-002 names ET-001 back.
  auto a = item("p-a", 1, {"ET-002"});
  auto b = item("p-b", 2, {"ET-001"});
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM job_deps") == "1");
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM work_item_deps WHERE "
                       "resolved_at IS NULL") == "0");
  auto comment = sql_value(*db, "SELECT kind, body FROM plane_outbox");
  CHECK(comment.find("comment|orchd: ET-00") == 0);
  CHECK(comment.find("cycle") != std::string::npos);
  // One of the two runs: no deadlock.
  CHECK(claimed_task() != "none");
  (void)a;
  (void)b;
}

TEST_CASE_FIXTURE(pipeline_store,
                  "the Plane outbox sends a task's calls in order, held back "
                  "after a failure") {
  auto a = item("p-a", 1);
  auto b = item("p-b", 2);
  st.queue_plane_call(a.id, "state", "review");
  st.queue_plane_call(a.id, "comment", "BRD ready");
  st.queue_plane_call(b.id, "comment", "hello");
  auto due = st.due_plane_calls(10);
  REQUIRE(due.size() == 2);
  CHECK(due[0].task_id == a.id);
  CHECK(due[0].kind == "state");
  CHECK(due[0].external_id == "orchd-" + std::to_string(a.id) + "-1");
  CHECK(due[0].plane_id == "p-a");
  CHECK(due[0].repo == "acme/widgets");
  CHECK(due[1].task_id == b.id);
  // A's state call fails: A's comment waits behind it, B goes on.
  CHECK(st.settle_plane_call({due[0].id, plane_call_result::retry, "503", 60}));
  CHECK(st.next_plane_call_due_ms().value_or(0) > 50'000);
  due = st.due_plane_calls(10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].task_id == b.id);
  CHECK(st.settle_plane_call({due[0].id, plane_call_result::sent, "", 0}));
  CHECK_FALSE(
      st.settle_plane_call({due[0].id, plane_call_result::sent, "", 0}));
  // Given up: kept with its error, the next call of the task goes.
  db->exec("UPDATE plane_outbox SET available_at = NULL");
  due = st.due_plane_calls(10);
  REQUIRE(due.size() == 1);
  CHECK(st.settle_plane_call(
      {due[0].id, plane_call_result::given_up, "HTTP 404", 0}));
  due = st.due_plane_calls(10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].body == "BRD ready");
  CHECK(sql_rows(*db, "SELECT attempts, sent_at IS NOT NULL, given_up_at IS "
                      "NOT NULL, error FROM plane_outbox ORDER BY id") ==
        "2|0|1|HTTP 404\n0|0|0|NULL\n1|1|0|NULL\n");
}

TEST_CASE_FIXTURE(pipeline_store,
                  "idle tasks: unfinished, no job queued or running") {
  auto a = item("p-a", 1);
  auto b = item("p-b", 2);
  CHECK(st.idle_tasks().empty());
  db->exec(("UPDATE jobs SET status = 'failed' WHERE task_id = " +
            std::to_string(a.id))
               .c_str());
  db->exec(
      ("UPDATE tasks SET stage = 'done' WHERE id = " + std::to_string(b.id))
          .c_str());
  db->exec(("UPDATE jobs SET status = 'done' WHERE task_id = " +
            std::to_string(b.id))
               .c_str());
  auto idle = st.idle_tasks();
  REQUIRE(idle.size() == 1);
  CHECK(idle[0].task.id == a.id);
  CHECK(idle[0].waiting == task_wait::nothing);
  CHECK_FALSE(idle[0].stuck);
  CHECK(idle[0].reconciles == 0);
  stage_action count{stage_action::count_reconcile};
  stage_action stuck{stage_action::mark_stuck};
  stuck.text = "why";
  unbox(st.apply_transition(a.id, task_stage::created, {count, stuck}));
  idle = st.idle_tasks();
  REQUIRE(idle.size() == 1);
  CHECK(idle[0].stuck);
  CHECK(idle[0].reconciles == 1);
}
