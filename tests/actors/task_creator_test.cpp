// Creating a work item's task: the store's one-transaction creation, real
// git worktrees, slugs and triggers, and the task creator actor under the
// deterministic scheduler.
#include "actors/intake/task_creator.hpp"

#include "actors/intake/ci_events.hpp"

#include "actors/logic/webhook_payload.hpp"
#include "actors/os/worktree.hpp"
#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/stand_ins.hpp"
#include "tests/support/test.hpp"

#include <filesystem>
#include <fstream>

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

// A real repository with one commit, made with the git CLI.
std::string make_repo(const test::temp_dir& dir) {
  auto path = dir.file("clone");
  std::filesystem::create_directories(path);
  for (auto& cmd : std::vector<std::vector<std::string>>{
           {"git", "-C", path, "init", "-q", "-b", "main"},
           {"git", "-C", path, "-c", "user.name=t", "-c", "user.email=t@t",
            "commit", "-q", "--allow-empty", "-m", "start"}}) {
    auto r = run_command(cmd);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
  return path;
}

work_item_request request_for(const std::string& plane_id, int64_t seq) {
  work_item_request x;
  x.plane_id = plane_id;
  x.repo = "acme/widgets";
  x.prefix = "ET";
  x.sequence_id = seq;
  x.branch_prefix = "agent/";
  x.title_slug = "add-retry";
  x.title = "Add retry";
  x.first_content = "Add retry\n\nto the sender";
  return x;
}

} // namespace

TEST_CASE("slugs are short, lowercase and dash-separated") {
  CHECK(slugify("Add retry to webhook sender") ==
        "add-retry-to-webhook-sender");
  CHECK(slugify("  Fix: crash (on *empty* input)!! ") ==
        "fix-crash-on-empty-input");
  CHECK(slugify("Ünïcode ßtuff") == "n-code-tuff");
  CHECK(slugify("") == "");
  CHECK(slugify(std::string(100, 'a')).size() == 40);
  CHECK(slugify("aaaa bbbb", 5) == "aaaa");
}

TEST_CASE("a work item enters on its trigger state and label") {
  project_config p;
  plane_event ev;
  ev.state_name = "In Progress";
  ev.state_group = "started";
  CHECK(trigger_matches(p, ev));
  ev.state_group = "backlog";
  CHECK_FALSE(trigger_matches(p, ev));
  p.trigger_states = {"In Progress"};
  CHECK(trigger_matches(p, ev));
  p.trigger_labels = {"agent"};
  CHECK_FALSE(trigger_matches(p, ev));
  ev.labels = {"bug", "agent"};
  CHECK(trigger_matches(p, ev));
  p.trigger_states.clear();
  ev.state_name = "Todo";
  CHECK(trigger_matches(p, ev));
}

TEST_CASE("create_work_item makes the task and its analyst job once") {
  test::temp_dir dir;
  auto db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  auto first = unbox(st.create_work_item(request_for("p-42", 42)));
  CHECK(first.created);
  CHECK(first.task.work_item_id == "ET-042");
  CHECK(first.task.branch == "agent/ET-042-add-retry");
  CHECK(first.task.title == "Add retry");
  auto again = unbox(st.create_work_item(request_for("p-42", 42)));
  CHECK_FALSE(again.created);
  CHECK(again.task.id == first.task.id);
  CHECK(
      sql_rows(*db, "SELECT agent, task_id, task_content, status FROM jobs") ==
      "analyst|" + std::to_string(first.task.id) +
          "|Add retry\n\nto the sender|queued\n");
  // The same sequence number already used in the repo: walk forward.
  auto other = unbox(st.create_work_item(request_for("p-other", 42)));
  CHECK(other.task.work_item_id == "ET-043");
  auto seq = request_for("p-seq", 0);
  seq.sequential = true;
  CHECK(unbox(st.create_work_item(seq)).task.work_item_id == "ET-044");
}

TEST_CASE("events: processed marks, and no replay of legacy leftovers") {
  test::temp_dir dir;
  auto path = dir.file("o.db");
  {
    // Unprocessed rows the Python system left behind, before orchd.
    auto opts = storage::open_options{};
    opts.path = path;
    opts.migrate = false;
    auto raw = unbox(storage::database::open(opts));
    raw->exec("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
              "timestamp TEXT DEFAULT (datetime('now')), source TEXT NOT "
              "NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL, "
              "processed INTEGER DEFAULT 0); INSERT INTO events (source, "
              "event_type, payload) VALUES ('plane', 'issue', '{}')");
  }
  auto db = test::open_db(path);
  storage::store st{*db};
  CHECK(st.unprocessed_events("plane").empty());
  auto a = unbox(st.add_event({"plane", "issue", "{\"a\":1}", "k1", false}));
  auto b = unbox(st.add_event({"plane", "cycle", "{}", "k2", true}));
  unbox(st.add_event({"github", "check_run", "{}", "k3", false}));
  auto open = st.unprocessed_events("plane");
  REQUIRE(open.size() == 1);
  CHECK(open[0].id == a.id);
  CHECK(open[0].record.payload == "{\"a\":1}");
  CHECK(st.mark_event_processed(a.id));
  CHECK_FALSE(st.mark_event_processed(a.id));
  CHECK_FALSE(st.mark_event_processed(b.id));
  CHECK(st.unprocessed_events("plane").empty());
}

TEST_CASE("a worktree and task folder are made once from the clone") {
  test::temp_dir dir;
  worktree_spec spec;
  spec.clone_path = make_repo(dir);
  spec.workspace_root = dir.file("work");
  spec.repo = "acme/widgets";
  spec.branch = "agent/ET-042-add-retry";
  spec.work_item_id = "ET-042";
  spec.task_folder = "docs/work-items";
  spec.title = "Add retry";
  spec.text = "to the sender";
  auto path = unbox(ensure_worktree(spec));
  CHECK(path == dir.file("work/acme__widgets/ET-042"));
  auto readme = path + "/docs/work-items/ET-042/README.md";
  std::ifstream in{readme};
  std::string first_line;
  std::getline(in, first_line);
  CHECK(first_line == "# ET-042: Add retry");
  auto head =
      run_command({"git", "-C", path, "rev-parse", "--abbrev-ref", "HEAD"});
  CHECK(head.output == "agent/ET-042-add-retry\n");
  // Again (a replay after a crash): nothing new, no error.
  CHECK(unbox(ensure_worktree(spec)) == path);
  auto list = run_command({"git", "-C", spec.clone_path, "worktree", "list"});
  CHECK(std::count(list.output.begin(), list.output.end(), '\n') == 2);
  // A folder removed by hand is made again from the existing branch.
  std::filesystem::remove_all(path);
  run_command({"git", "-C", spec.clone_path, "worktree", "prune"});
  CHECK(unbox(ensure_worktree(spec)) == path);
}

TEST_CASE("a broken clone fails the worktree with git's message") {
  test::temp_dir dir;
  worktree_spec spec;
  spec.clone_path = dir.file("no-such-clone");
  spec.workspace_root = dir.file("work");
  spec.repo = "acme/widgets";
  spec.branch = "agent/ET-1";
  spec.work_item_id = "ET-1";
  spec.task_folder = "docs";
  auto result = ensure_worktree(spec);
  REQUIRE_FALSE(result);
  CHECK(describe(result.error()).find("git worktree add failed") == 0);
}

TEST_CASE("remote branches that contain a commit") {
  auto out = "  origin/HEAD -> origin/main\n"
             "  origin/agent/ET-042-add-retry\n"
             "  upstream/main\n"
             "* weird\n";
  CHECK(parse_remote_branches(out) ==
        std::vector<std::string>{"agent/ET-042-add-retry", "main"});
  CHECK(parse_remote_branches("").empty());
}

TEST_CASE("a CI outcome is kept on its event and marks it handled") {
  test::temp_dir dir;
  auto db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  auto task = unbox(st.create_work_item(request_for("p-1", 1))).task;
  auto ev = unbox(st.add_event({"github", "check_run", "{}", "g-1", false}));
  CHECK(unbox(st.task_on_branches("acme/widgets",
                                  {"nope", "agent/ET-001-add-retry"}))
            .id == task.id);
  CHECK_FALSE(st.task_on_branches("acme/widgets", {"nope"}));
  CHECK(st.record_ci_outcome({ev.id, task.id, task.branch, "failure"}));
  CHECK(sql_rows(*db, "SELECT task_id, ci_branch, ci_result, processed FROM "
                      "events") ==
        std::to_string(task.id) + "|agent/ET-001-add-retry|failure|1\n");
}

TEST_CASE("a project's first agent comes from its configuration") {
  project_config p;
  p.repo = "acme/widgets";
  p.prefix = "ET";
  p.first_agent = "architect";
  plane_event ev;
  ev.work_item_id = "p-7";
  ev.sequence_id = 7;
  ev.name = "Add retry";
  ev.description =
      "Needs the sender.\ndepends-on: ET-003, et-004\nDepends-On: ET-003";
  auto x = make_work_item_request(p, ev, 5);
  CHECK(x.first_agent == "architect");
  CHECK(x.first_max_attempts == 5);
  CHECK(x.depends_on == std::vector<std::string>{"ET-003", "ET-004"});
  test::temp_dir dir;
  auto db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  unbox(st.create_work_item(x));
  CHECK(sql_rows(*db, "SELECT agent, max_attempts FROM jobs") ==
        "architect|5\n");
  CHECK(sql_rows(*db, "SELECT work_item_id FROM work_item_deps ORDER BY 1") ==
        "ET-003\nET-004\n");
}

// -- the actor
// ------------------------------------------------------------------

namespace {

struct creator_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::string clone = make_repo(dir);
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage_actor store = storage::spawn_storage(sys, db, false);
  std::shared_ptr<test::scheduler_log> scheduler_seen =
      std::make_shared<test::scheduler_log>();
  task_creator_actor creator;

  creator_fixture() {
    auto cfg = test::one_project_config(clone, dir.file("work"));
    // Not detached, so it runs under the deterministic scheduler.
    creator = sys.spawn(task_creator, store, cfg,
                        test::stand_in_scheduler(sys, scheduler_seen),
                        pipeline_actor{});
    run();
  }

  ~creator_fixture() { stop(creator, store); }

  // Records a Plane delivery as intake would and hands it to the creator.
  int64_t deliver(const std::string& body, const std::string& delivery) {
    auto ack = unbox(ask<event_ack>(
        store, atom::record_v, event_record{"plane", "issue", body, delivery},
        ci_mapping{}));
    self->send(creator, atom::handle_v, ack.id, body);
    run();
    return ack.id;
  }
};

} // namespace

TEST_CASE_FIXTURE(creator_fixture, "the task creator makes a work item's task, "
                                   "first job and worktree once") {
  auto body = test::read_fixture("plane_issue_updated.body.json");
  deliver(body, "d-1");
  CHECK(sql_rows(*db, "SELECT work_item_id, stage FROM tasks") ==
        "ET-042|created\n");
  CHECK(sql_rows(*db, "SELECT agent, status FROM jobs") == "analyst|queued\n");
  CHECK(std::filesystem::exists(dir.file("work/acme__widgets/ET-042/.git")));
  CHECK(sql_rows(*db, "SELECT processed FROM events") == "1\n");
  // The scheduler hears of the new worktree: the analyst may run now.
  CHECK(scheduler_seen->wakes == 1);
  // The same work item again: nothing new, and no wake.
  deliver(body, "d-2");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM tasks") == "1\n");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM jobs") == "1\n");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM events WHERE processed = 0") ==
        "0\n");
  CHECK(scheduler_seen->wakes == 1);
}

TEST_CASE_FIXTURE(creator_fixture, "an event of no configured project is "
                                   "handled and makes nothing") {
  auto body = test::read_fixture("plane_issue_updated.body.json");
  auto at = body.find("59e3be42");
  REQUIRE(at != std::string::npos);
  body.replace(at, 8, "00000000");
  deliver(body, "d-1");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM tasks") == "0\n");
  CHECK(sql_rows(*db, "SELECT processed FROM events") == "1\n");
  CHECK(scheduler_seen->wakes == 0);
}

TEST_CASE_FIXTURE(creator_fixture, "a failed git leaves the task in "
                                   "setup_failed, and a later event makes "
                                   "the worktree") {
  auto body = test::read_fixture("plane_issue_updated.body.json");
  std::filesystem::rename(clone, clone + ".away");
  deliver(body, "d-1");
  CHECK(sql_rows(*db, "SELECT stage FROM tasks") == "setup_failed\n");
  CHECK(scheduler_seen->wakes == 0);
  std::filesystem::rename(clone + ".away", clone);
  deliver(body, "d-2");
  CHECK(std::filesystem::exists(dir.file("work/acme__widgets/ET-042/.git")));
  CHECK(scheduler_seen->wakes == 1);
  run();
  CHECK(sql_rows(*db, "SELECT stage FROM tasks") == "created\n");
}

TEST_CASE_FIXTURE(creator_fixture, "a failed setup is tried again after a "
                                   "backoff, and at the operator's word") {
  auto body = test::read_fixture("plane_issue_updated.body.json");
  std::filesystem::rename(clone, clone + ".away");
  deliver(body, "d-1");
  CHECK(sql_rows(*db, "SELECT stage FROM tasks") == "setup_failed\n");
  // The first retry (after 30 s) fails too; the second waits 60 s.
  sched.advance_time(std::chrono::seconds(30));
  run();
  CHECK(sql_rows(*db, "SELECT stage FROM tasks") == "setup_failed\n");
  std::filesystem::rename(clone + ".away", clone);
  sched.advance_time(std::chrono::seconds(60));
  run();
  CHECK(sql_rows(*db, "SELECT stage FROM tasks") == "created\n");
  CHECK(std::filesystem::exists(dir.file("work/acme__widgets/ET-042/.git")));
  CHECK(scheduler_seen->wakes == 1);
  // The operator's retry of a task that is fine changes nothing.
  caf::expected<task_row> answer{caf::make_error(ec::none)};
  self->send(creator, atom::setup_v, int64_t{1},
             reply_to<task_row>{[&](caf::expected<task_row> x) {
               answer = std::move(x);
             }});
  run();
  REQUIRE(answer);
  CHECK(answer->stage == task_stage::created);
  CHECK(scheduler_seen->wakes == 1);
}
