// The store's task, work-item, tracker, event, run, dependency and freeze
// operations against a real SQLite file (shared/LEGACY.md guarantees).
#include "storage/store.hpp"

#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

struct store_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};

  task_row make_task(const std::string& plane_id, const std::string& repo,
                     const std::string& work_item_id = "",
                     const std::string& branch = "") {
    return unbox(st.create_task(
                     new_task{plane_id, work_item_id, repo, branch, ""}))
        .task;
  }
};

} // namespace

TEST_CASE_FIXTURE(store_fixture, "create_task inserts once per plane id") {
  auto first = unbox(st.create_task(
      new_task{"p-1", "ET-001", "acme/widgets", "agent/ET-001-x", "Title"}));
  CHECK(first.created);
  CHECK(first.task.plane_id == "p-1");
  CHECK(first.task.plane_issue_id == "p-1");
  CHECK(first.task.stage == task_stage::created);
  CHECK(first.task.title == "Title");
  auto again = unbox(st.create_task(
      new_task{"p-1", "ET-002", "acme/widgets", "other", "Other"}));
  CHECK_FALSE(again.created);
  CHECK(again.task.id == first.task.id);
  CHECK(again.task.work_item_id == "ET-001");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM tasks") == "1\n");
}

TEST_CASE_FIXTURE(store_fixture, "create_task refuses a missing plane id") {
  auto result = st.create_task(new_task{"", "", "acme/widgets", "", ""});
  REQUIRE_FALSE(result);
  CHECK(result.error() == ec::invalid_argument);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM tasks") == "0\n");
}

TEST_CASE_FIXTURE(store_fixture, "task lookup by either plane id column") {
  db->exec("INSERT INTO tasks (plane_issue_id, repo) VALUES ('legacy', 'r')");
  auto t = unbox(st.task_by_plane_id("legacy"));
  CHECK(t.repo == "r");
  CHECK(t.plane_id.empty());
  auto missing = st.task_by_plane_id("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::no_such_task);
  // create_task finds the legacy row instead of making a second one.
  CHECK_FALSE(
      unbox(st.create_task(new_task{"legacy", "", "r", "", ""})).created);
}

TEST_CASE_FIXTURE(store_fixture, "task lookup by repo and branch") {
  auto t = make_task("p-1", "acme/widgets", "ET-001", "agent/ET-001");
  make_task("p-2", "acme/other", "OT-001", "agent/ET-001");
  CHECK(unbox(st.task_by_branch("acme/widgets", "agent/ET-001")).id == t.id);
  CHECK(st.task_by_branch("acme/widgets", "main").error() == ec::no_such_task);
}

TEST_CASE_FIXTURE(store_fixture,
                  "a CI result naming its branches is mapped as it is stored") {
  auto t = make_task("p-1", "acme/widgets", "ET-001", "agent/ET-001");
  event_record ev{"github", "check_run", "{}", "g-1", false};
  // The task's branch second: any named branch maps.
  auto ack = unbox(st.add_event(
      ev, ci_mapping{"acme/widgets", {"main", "agent/ET-001"}, "failure"}));
  CHECK(ack.created);
  REQUIRE(ack.task_id);
  CHECK(*ack.task_id == t.id);
  // No task on the branches (or another repo's): unresolved, yet handled.
  // The first decides something for its task: unhandled until the
  // pipeline took it.
  ev.delivery_id = "g-2";
  auto none = unbox(
      st.add_event(ev, ci_mapping{"acme/other", {"agent/ET-001"}, "success"}));
  CHECK(none.created);
  CHECK_FALSE(none.task_id);
  // A redelivery changes nothing.
  ev.delivery_id = "g-1";
  auto again = unbox(st.add_event(
      ev, ci_mapping{"acme/widgets", {"agent/ET-001"}, "success"}));
  CHECK_FALSE(again.created);
  // No branches: stored unhandled, for ci_events.
  ev.delivery_id = "g-3";
  CHECK(unbox(st.add_event(ev, ci_mapping{"acme/widgets", {}, "success"}))
            .created);
  CHECK(sql_rows(*db, "SELECT delivery_id, task_id, ci_branch, ci_result, "
                      "processed FROM events ORDER BY id") ==
        "g-1|" + std::to_string(t.id) +
            "|agent/ET-001|failure|0\n"
            "g-2|NULL|agent/ET-001|success|1\n"
            "g-3|NULL|NULL|NULL|0\n");
}

TEST_CASE_FIXTURE(store_fixture, "stage update stamps updated_at") {
  auto t = make_task("p-1", "r");
  db->exec("UPDATE tasks SET updated_at = '2020-01-01 00:00:00'");
  CHECK(unbox(st.set_stage(t.id, task_stage::development)));
  auto after = unbox(st.task_by_id(t.id));
  CHECK(after.stage == task_stage::development);
  CHECK(after.updated_at > "2020-01-01 00:00:00");
  CHECK_FALSE(unbox(st.set_stage(9999, task_stage::development)));
}

TEST_CASE_FIXTURE(store_fixture, "active tasks skip done ones and report age") {
  auto a = make_task("p-1", "r");
  auto b = make_task("p-2", "r");
  unbox(st.set_stage(b.id, task_stage::done));
  db->exec("UPDATE tasks SET updated_at = datetime('now', '-120 seconds') "
           "WHERE plane_id = 'p-1'");
  auto active = st.active_tasks();
  REQUIRE(active.size() == 1);
  CHECK(active[0].task.id == a.id);
  CHECK(active[0].age_s >= 119);
  CHECK(active[0].age_s <= 125);
}

TEST_CASE_FIXTURE(store_fixture, "development tasks of a repo") {
  auto a = make_task("p-1", "r");
  auto b = make_task("p-2", "r");
  auto c = make_task("p-3", "other");
  for (auto id : {a.id, b.id, c.id})
    unbox(st.set_stage(id, task_stage::development));
  auto dev = st.tasks_in_stage("r", task_stage::development);
  REQUIRE(dev.size() == 2);
  CHECK(dev[0].id == a.id);
  CHECK(dev[1].id == b.id);
}

// -- work item ids ------------------------------------------------------------

TEST_CASE_FIXTURE(store_fixture, "next work item id per repo and prefix") {
  CHECK(st.next_work_item_id("r", "ET") == "ET-001");
  make_task("p-1", "r", "ET-003");
  make_task("p-2", "r", "ET-041");
  make_task("p-3", "other", "ET-900");
  make_task("p-4", "r", "OT-777");
  CHECK(st.next_work_item_id("r", "ET") == "ET-042");
  make_task("p-5", "r", "ET-999");
  CHECK(st.next_work_item_id("r", "ET") == "ET-1000");
  // A prefix is matched literally: neither wildcard nor case folding.
  CHECK(st.next_work_item_id("r", "E_") == "E_-001");
  make_task("p-6", "r", "et-5000");
  CHECK(st.next_work_item_id("r", "ET") == "ET-1000");
}

TEST_CASE_FIXTURE(store_fixture,
                  "unique work item id walks forward, width kept") {
  make_task("p-7", "r", "ET-007");
  make_task("p-8", "r", "ET-008");
  CHECK(st.unique_work_item_id("r", "ET-007") == "ET-009");
  CHECK(st.unique_work_item_id("r", "ET-010") == "ET-010");
  CHECK(st.unique_work_item_id("other", "ET-007") == "ET-007");
  make_task("p-9", "r", "ET-9");
  CHECK(st.unique_work_item_id("r", "ET-9") == "ET-10");
  CHECK(st.unique_work_item_id("r", "NODASH") == "NODASH");
  CHECK(st.unique_work_item_id("r", "ET-abc") == "ET-abc");
}

// -- tracker cards and BRD review --------------------------------------------

TEST_CASE_FIXTURE(store_fixture, "tracker card id per task") {
  auto t = make_task("p-1", "r");
  CHECK_FALSE(unbox(st.tracker_message(t.id)));
  CHECK(unbox(st.set_tracker_message(t.id, 555)));
  CHECK(unbox(st.tracker_message(t.id)) == caf::optional<int64_t>{555});
  CHECK(st.tracker_message(4242).error() == ec::no_such_task);
}

TEST_CASE_FIXTURE(store_fixture, "a sent card is recorded and current") {
  auto t = make_task("p-1", "acme/shop", "ET-1");
  CHECK(unbox(st.record_tracker_card(t.id, 40)));
  CHECK(unbox(st.record_tracker_card(t.id, 41)));
  CHECK(unbox(st.tracker_message(t.id)) == caf::optional<int64_t>{41});
  CHECK(st.record_tracker_card(4242, 1).error() == ec::no_such_task);
  CHECK(test::sql_value(*db, "SELECT COUNT(*) FROM tracker_messages") == "2");
  auto f = unbox(st.card_facts_of(t.id));
  CHECK(f.detail.task.work_item_id == "ET-1");
  CHECK(f.detail.task.tracker_message_id == caf::optional<int64_t>{41});
  CHECK(f.open == std::vector<int64_t>{40, 41});
  CHECK(f.running_agent.empty());
  CHECK(f.blocked_by.empty());
  CHECK(f.frozen.empty());
  CHECK(st.card_facts_of(4242).error() == ec::no_such_task);
}

TEST_CASE_FIXTURE(store_fixture, "card facts: running, held, blocked, frozen") {
  auto dep = make_task("p-0", "acme/shop", "ET-0");
  auto t = make_task("p-1", "acme/shop", "ET-1");
  db->exec(("INSERT INTO job_deps (task_id, depends_on_task_id) VALUES (" +
            std::to_string(t.id) + ", " + std::to_string(dep.id) + ")")
               .c_str());
  db->exec(("INSERT INTO work_item_deps (task_id, work_item_id) VALUES (" +
            std::to_string(t.id) + ", 'ET-9')")
               .c_str());
  db->exec(("INSERT INTO jobs (agent, repo, task_id, status, started_at) "
            "VALUES ('developer', 'acme/shop', " +
            std::to_string(t.id) + ", 'running', '2026-04-01 09:00:00')")
               .c_str());
  db->exec(("INSERT INTO jobs (agent, repo, task_id, available_at) VALUES "
            "('deployer', 'acme/shop', " +
            std::to_string(t.id) + ", datetime('now', '+300 seconds'))")
               .c_str());
  db->exec("INSERT INTO repo_freeze (repo, reason) VALUES ('acme/shop', "
           "'verification failed')");
  auto f = unbox(st.card_facts_of(t.id));
  CHECK(f.running_agent == "developer");
  CHECK(f.running_since == "2026-04-01 09:00:00");
  CHECK_FALSE(f.deferred_until.empty());
  CHECK(f.blocked_by == std::vector<std::string>{"ET-0", "ET-9"});
  CHECK(f.frozen == "verification failed");
  // Another repo's freeze, a finished dependency: not waited for.
  db->exec("UPDATE repo_freeze SET cleared_at = datetime('now')");
  db->exec(
      ("UPDATE tasks SET stage = 'done' WHERE id = " + std::to_string(dep.id))
          .c_str());
  f = unbox(st.card_facts_of(t.id));
  CHECK(f.frozen.empty());
  CHECK(f.blocked_by == std::vector<std::string>{"ET-9"});
}

TEST_CASE_FIXTURE(store_fixture, "cards due after a restart and every sweep") {
  auto open = make_task("p-1", "r", "ET-1");
  auto doubled = make_task("p-2", "r", "ET-2");
  auto finished = make_task("p-3", "r", "ET-3");
  auto old = make_task("p-4", "r", "ET-4");
  CHECK(unbox(st.record_tracker_card(doubled.id, 10)));
  CHECK(unbox(st.record_tracker_card(doubled.id, 11)));
  CHECK(unbox(st.record_tracker_card(finished.id, 20)));
  db->exec("UPDATE tracker_messages SET created_at = '2020-01-01 00:00:00' "
           "WHERE message_id = 20");
  db->exec(("UPDATE tasks SET stage = 'done' WHERE id = " +
            std::to_string(finished.id))
               .c_str());
  db->exec(("UPDATE tasks SET stage = 'done', updated_at = '2020-01-01 "
            "00:00:00' WHERE id = " +
            std::to_string(old.id))
               .c_str());
  auto text = [](const std::vector<card_due>& due) {
    std::string out;
    for (auto& d : due)
      out += std::to_string(d.task_id) + (d.bump ? "b" : "") +
             (d.edit ? "e " : " ");
    return out;
  };
  auto id = [](const task_row& t) {
    return std::to_string(t.id);
  };
  // The sweep: the finished task's card predates its finish (bump), the
  // doubled task's extra card.
  CHECK(text(st.cards_due(false)) == id(doubled) + " " + id(finished) + "be ");
  // After a restart, the unfinished task too; never the old finished one.
  CHECK(text(st.cards_due(true)) ==
        id(open) + "e " + id(doubled) + "e " + id(finished) + "be ");
  // Its bump done, the finished task is not due any more.
  CHECK(unbox(st.record_tracker_card(finished.id, 21)));
  CHECK(st.mark_tracker_card_deleted(finished.id, 20));
  CHECK(st.mark_tracker_card_deleted(doubled.id, 10));
  CHECK(text(st.cards_due(false)).empty());
}

TEST_CASE_FIXTURE(store_fixture, "tracker ledger is idempotent and ordered") {
  auto t = make_task("p-1", "r");
  CHECK(st.add_tracker_card(t.id, 30));
  CHECK(st.add_tracker_card(t.id, 10));
  CHECK(st.add_tracker_card(t.id, 20));
  CHECK_FALSE(st.add_tracker_card(t.id, 10));
  CHECK(st.open_tracker_cards(t.id) == std::vector<int64_t>{10, 20, 30});
  CHECK(st.mark_tracker_card_deleted(t.id, 20));
  CHECK_FALSE(st.mark_tracker_card_deleted(t.id, 20));
  auto stamp = sql_rows(*db, "SELECT deleted_at FROM tracker_messages "
                             "WHERE message_id = 20");
  // Adding a deleted id again changes nothing and does not reopen it.
  CHECK_FALSE(st.add_tracker_card(t.id, 20));
  CHECK(st.open_tracker_cards(t.id) == std::vector<int64_t>{10, 30});
  CHECK(sql_rows(*db, "SELECT deleted_at FROM tracker_messages "
                      "WHERE message_id = 20") == stamp);
}

TEST_CASE_FIXTURE(store_fixture,
                  "BRD review stamps are set once, end after start") {
  auto t = make_task("p-1", "r");
  CHECK_FALSE(st.end_brd_review(t.id));
  CHECK(unbox(st.task_by_id(t.id)).brd_review_ended_at.empty());
  CHECK(st.start_brd_review(t.id));
  db->exec("UPDATE tasks SET brd_review_started_at = '2020-01-01 00:00:00'");
  // A retried analyst must not reset the clock.
  CHECK_FALSE(st.start_brd_review(t.id));
  CHECK(unbox(st.task_by_id(t.id)).brd_review_started_at ==
        "2020-01-01 00:00:00");
  CHECK(st.end_brd_review(t.id));
  auto ended = unbox(st.task_by_id(t.id)).brd_review_ended_at;
  CHECK_FALSE(ended.empty());
  CHECK_FALSE(st.end_brd_review(t.id));
}

// -- events -------------------------------------------------------------------

TEST_CASE_FIXTURE(store_fixture,
                  "event insert is de-duplicated on delivery id") {
  auto first = unbox(st.add_event({"github", "check_run", "{}", "d-1"}));
  CHECK(first.created);
  CHECK(first.id > 0);
  auto dup = unbox(st.add_event({"github", "check_run", "{\"x\":1}", "d-1"}));
  CHECK_FALSE(dup.created);
  // No delivery id: stored as NULL, never treated as a duplicate.
  CHECK(unbox(st.add_event({"plane", "issue", "{}", ""})).created);
  CHECK(unbox(st.add_event({"plane", "issue", "{}", ""})).created);
  CHECK(sql_rows(*db, "SELECT COUNT(*), COUNT(delivery_id) FROM events") ==
        "3|1\n");
  CHECK(sql_rows(*db, "SELECT payload, processed FROM events WHERE id = 1") ==
        "{}|0\n");
  // A second key: taken, the event is a duplicate whatever its delivery id.
  CHECK(unbox(st.add_event({"github", "check_run", "{}", "d-2", false, "k-1"}))
            .created);
  CHECK_FALSE(
      unbox(st.add_event({"github", "check_run", "{}", "d-3", false, "k-1"}))
          .created);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM events WHERE body_key = 'k-1'") ==
        "1\n");
}

// -- agent runs ---------------------------------------------------------------

TEST_CASE_FIXTURE(store_fixture, "agent run start and finish with usage") {
  auto t = make_task("p-1", "r");
  auto id = unbox(st.start_run(new_run{t.id, "developer", "var/runs/1.log",
                                       "claude-sonnet-4-5", "high"}));
  auto started = unbox(st.run_by_id(id));
  CHECK(started.finished_at.empty());
  CHECK_FALSE(started.exit_code);
  CHECK(started.effort == "high");
  run_outcome out;
  out.run_id = id;
  out.exit_code = 0;
  out.usage.input_tokens = 21;
  out.usage.output_tokens = 3120;
  out.usage.cache_read_tokens = 201337;
  out.usage.cache_creation_tokens = 14022;
  out.usage.cost_usd = 0.4137;
  out.model = "claude-sonnet-4-5-20250929";
  CHECK(unbox(st.finish_run(out)));
  auto done = unbox(st.run_by_id(id));
  CHECK(done.exit_code == caf::optional<int64_t>{0});
  CHECK_FALSE(done.finished_at.empty());
  CHECK(done.usage.cache_read_tokens == caf::optional<int64_t>{201337});
  CHECK(*done.usage.cost_usd == doctest::Approx(0.4137));
  CHECK(done.model == "claude-sonnet-4-5-20250929");
  // No effort passed: NULL, as the legacy rows have it.
  auto plain = unbox(st.start_run(new_run{caf::none, "analyst", "", "", ""}));
  CHECK(sql_rows(*db, "SELECT effort IS NULL, task_id IS NULL FROM "
                      "agent_runs WHERE id = " +
                          std::to_string(plain)) == "1|1\n");
  run_outcome unknown;
  unknown.run_id = 9999;
  CHECK_FALSE(unbox(st.finish_run(unknown)));
}

// -- dependencies -------------------------------------------------------------

TEST_CASE_FIXTURE(store_fixture, "dependency edges: idempotent, no self-edge") {
  auto a = make_task("p-1", "r");
  auto b = make_task("p-2", "r");
  auto self_edge = st.add_dependency(a.id, a.id);
  REQUIRE_FALSE(self_edge);
  CHECK(self_edge.error() == ec::invalid_argument);
  CHECK(unbox(st.add_dependency(a.id, b.id)));
  CHECK_FALSE(unbox(st.add_dependency(a.id, b.id)));
  auto edges = st.dependencies_of(a.id);
  REQUIRE(edges.size() == 1);
  CHECK(edges[0].depends_on_task_id == b.id);
  CHECK(st.all_dependencies().size() == 1);
  CHECK(st.unfinished_dependencies(a.id) == std::vector<int64_t>{b.id});
  unbox(st.set_stage(b.id, task_stage::done));
  CHECK(st.unfinished_dependencies(a.id).empty());
}

TEST_CASE_FIXTURE(store_fixture, "dependency reads treat a failure as none") {
  auto a = make_task("p-1", "r");
  db->exec("DROP TABLE job_deps");
  CHECK(st.dependencies_of(a.id).empty());
  CHECK(st.all_dependencies().empty());
  CHECK(st.unfinished_dependencies(a.id).empty());
}

// -- freezes ------------------------------------------------------------------

TEST_CASE_FIXTURE(store_fixture, "freeze journal is append-only") {
  CHECK(st.active_freezes().empty());
  unbox(st.freeze_repo("r", "DEGRADED after deploy", "ET-004"));
  unbox(st.freeze_repo("r", "again", "ET-005"));
  unbox(st.freeze_repo("other", "x", ""));
  auto active = st.active_freezes();
  REQUIRE(active.size() == 3);
  CHECK(active[0].reason == "DEGRADED after deploy");
  CHECK(active[0].work_item_id == "ET-004");
  CHECK(st.unfreeze_repo("r") == 2);
  CHECK(st.unfreeze_repo("r") == 0);
  REQUIRE(st.active_freezes().size() == 1);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM repo_freeze") == "3\n");
}

TEST_CASE_FIXTURE(store_fixture, "retention: old handled payloads are "
                                 "emptied, their rows and keys kept") {
  CHECK(unbox(st.add_event(
                  {"github", "check_run", "old-handled", "g-1", true, "k-1"}))
            .created);
  CHECK(unbox(st.add_event({"github", "check_run", "old-unhandled", "g-2"}))
            .created);
  CHECK(unbox(st.add_event({"github", "check_run", "new-handled", "g-3", true}))
            .created);
  db->exec("UPDATE events SET timestamp = datetime('now', '-40 days') "
           "WHERE delivery_id IN ('g-1', 'g-2')");
  CHECK(st.clear_old_payloads(30) == 1);
  CHECK(st.clear_old_payloads(30) == 0);
  CHECK(sql_rows(*db, "SELECT delivery_id, payload FROM events ORDER BY id") ==
        "g-1|\ng-2|old-unhandled\ng-3|new-handled\n");
  // A replay of the emptied one is still a duplicate.
  CHECK_FALSE(unbox(st.add_event({"github", "check_run", "old-handled", "g-9",
                                  true, "k-1"}))
                  .created);
}

TEST_CASE_FIXTURE(store_fixture, "retention: tasks finished long ago") {
  auto done_old = make_task("p-1", "r", "ET-001");
  auto done_new = make_task("p-2", "r", "ET-002");
  auto open_old = make_task("p-3", "r", "ET-003");
  auto cancelled_old = make_task("p-4", "r", "ET-004");
  unbox(st.set_stage(done_old.id, task_stage::done));
  unbox(st.set_stage(done_new.id, task_stage::done));
  unbox(st.set_stage(cancelled_old.id, task_stage::cancelled));
  db->exec("UPDATE tasks SET updated_at = datetime('now', '-20 days') "
           "WHERE work_item_id IN ('ET-001', 'ET-003', 'ET-004')");
  std::string ids;
  for (auto& t : st.finished_before(14))
    ids += t.work_item_id + " ";
  CHECK(ids == "ET-001 ET-004 ");
  CHECK(st.finished_before(30).empty());
  (void)open_old;
}

TEST_CASE_FIXTURE(store_fixture, "a pipeline transition is one write, "
                                 "guarded on the stage it was decided in") {
  auto t = make_task("p-1", "acme/widgets", "ET-042", "agent/ET-042");
  new_job first;
  first.agent = "analyst";
  first.repo = "acme/widgets";
  first.task_id = t.id;
  first.task_content = "Add retries";
  unbox(st.enqueue(first));
  unbox(st.set_stage(t.id, task_stage::analysis));
  using a = stage_action;
  // The BRD posted: stamp, wait, Plane calls queued.
  auto posted = unbox(st.apply_transition(
      t.id, task_stage::analysis,
      {{a::stamp_brd_start},
       {a::set_waiting, task_stage::unknown, "", "", 0, 0,
        task_wait::human_review},
       {a::plane_state, task_stage::unknown, "", "review"},
       {a::plane_comment, task_stage::unknown, "", "BRD ready"}}));
  CHECK(posted.applied);
  CHECK(sql_rows(*db, "SELECT stage, waiting, brd_review_started_at IS NOT "
                      "NULL FROM tasks") == "analysis|human_review|1\n");
  CHECK(sql_rows(*db, "SELECT kind, body, external_id FROM plane_outbox "
                      "ORDER BY id") ==
        "state|review|orchd-1-1\ncomment|BRD ready|orchd-1-2\n");
  // Approved: the stage moves (the wait cleared, history kept) and the
  // architect's job carries the work item's text and what was added.
  auto approved = unbox(st.apply_transition(
      t.id, task_stage::analysis,
      {{a::stamp_brd_end},
       {a::set_stage, task_stage::architecture},
       {a::enqueue, task_stage::unknown, "architect", "Mind the 429s"}}));
  CHECK(approved.applied);
  REQUIRE(approved.enqueued.size() == 1);
  CHECK(sql_rows(*db, "SELECT agent, task_content FROM jobs WHERE id = " +
                          std::to_string(approved.enqueued[0])) ==
        "architect|Add retries\n\nMind the 429s\n");
  CHECK(sql_rows(*db, "SELECT stage, waiting FROM tasks") ==
        "architecture|NULL\n");
  CHECK(sql_rows(*db, "SELECT from_stage, to_stage FROM stage_history") ==
        "analysis|architecture\n");
  // A second approval, decided while the task was in analysis: nothing.
  auto again = unbox(st.apply_transition(
      t.id, task_stage::analysis,
      {{a::set_stage, task_stage::architecture},
       {a::enqueue, task_stage::unknown, "architect", ""}}));
  CHECK_FALSE(again.applied);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM jobs") == "2\n");
  // Stuck, counters, sha; then cancel: queued failed, running to stop.
  unbox(st.apply_transition(
      t.id, task_stage::architecture,
      {{a::record_sha, task_stage::unknown, "", std::string(40, 'a')},
       {a::count_ci_failure},
       {a::count_review_round},
       {a::mark_stuck, task_stage::unknown, "", "CI failed 4 times"}}));
  CHECK(sql_rows(*db, "SELECT expected_sha = '" + std::string(40, 'a') +
                          "', ci_failures, review_rounds, stuck_reason "
                          "FROM tasks") == "1|1|1|CI failed 4 times\n");
  auto running = unbox(st.claim_next_job({}));
  auto cancelled = unbox(st.apply_transition(
      t.id, task_stage::architecture,
      {{a::cancel_jobs},
       {a::set_stage, task_stage::cancelled},
       {a::freeze_repo, task_stage::unknown, "", "degraded"}}));
  CHECK(cancelled.to_stop == std::vector<int64_t>{running.id});
  CHECK(sql_rows(*db, "SELECT status FROM jobs ORDER BY id") ==
        "running\nfailed\n");
  CHECK(sql_rows(*db, "SELECT stage, stuck_reason FROM tasks") ==
        "cancelled|NULL\n");
  auto state = unbox(st.pipeline_state(t.id));
  CHECK(state.waiting == task_wait::nothing);
  CHECK(state.expected_sha == std::string(40, 'a'));
  CHECK(state.ci_failures == 1);
  CHECK(state.review_rounds == 1);
  CHECK(state.stuck_reason.empty());
  REQUIRE(state.history.size() == 2);
  CHECK(state.history[0].rfind("analysis>architecture@", 0) == 0);
  CHECK(state.history[1].rfind("architecture>cancelled@", 0) == 0);
  CHECK(sql_rows(*db, "SELECT repo, reason, work_item_id FROM repo_freeze") ==
        "acme/widgets|degraded|ET-042\n");
  CHECK(st.apply_transition(999, task_stage::analysis, {}).error() ==
        ec::no_such_task);
}
