// The pipeline through the real daemon: a real git clone with a bare
// `origin`, the fake agent in every role, a fake Plane on loopback that
// records what orchd sends, and signed webhooks sent by the test.
#include "tests/support/pipeline_world.hpp"

using namespace orchd;
using namespace orchd::test;
using json = nlohmann::json;

namespace {

const std::string history_of_walk =
    "created>analysis\nanalysis>architecture\narchitecture>development\n"
    "development>ci\nci>review\nreview>deploy\ndeploy>verification\n"
    "verification>done\n";

} // namespace

TEST_CASE("a work item walks from analysis to a verified deploy") {
  pipeline_world w;
  w.work_item("item-1", 42, "Add retry to webhook sender", "In Progress",
              "started");
  // The analyst's BRD is posted for review: Plane moves to review.
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  CHECK(w.task_col("ET-042", "brd_review_started_at") != "");
  CHECK(std::filesystem::exists(
      w.dir.file("work/acme__widgets/ET-042/docs/work-items/ET-042/brd.md")));
  w.wait_for_plane(3);
  auto calls = w.plane.accepted();
  auto item = "/api/v1/workspaces/acme/projects/" + plane_project +
              "/work-items/item-1/";
  CHECK(calls[0] ==
        "GET /api/v1/workspaces/acme/projects/" + plane_project + "/states/");
  CHECK(calls[1] == "PATCH " + item + " {\"state\":\"state-review\"}");
  CHECK(calls[2].rfind("POST " + item + "comments/ ", 0) == 0);
  CHECK(calls[2].find("docs/work-items/ET-042/brd.md") != std::string::npos);
  CHECK(calls[2].find("\"external_source\":\"orchd\"") != std::string::npos);
  CHECK(calls[2].find("\"external_id\":\"orchd-1-2\"") != std::string::npos);
  for (auto& c : w.plane.calls())
    CHECK(c.api_key == "plane-key");
  // A second delivery of the same state decides nothing.
  w.work_item("item-1", 42, "Add retry to webhook sender", "BRD Review",
              "started");
  // The human approves: architecture, development, then CI is awaited.
  w.work_item("item-1", 42, "Add retry to webhook sender", "Approved",
              "started");
  auto branch = w.task_col("ET-042", "branch");
  auto sha = w.wait_for_ci("ET-042");
  CHECK(sha == w.origin_head(branch));
  CHECK(w.task_col("ET-042", "brd_review_ended_at") != "");
  // A result for another commit, and a pending one, change nothing.
  w.ci(std::string(40, 'a'), branch, "success");
  w.ci(sha, branch, "");
  w.wait_for("SELECT COUNT(*) FROM events WHERE processed = 0", "0\n");
  CHECK(w.task_col("ET-042", "stage") == "ci");
  w.ci(sha, branch, "success");
  w.wait_for("SELECT stage FROM tasks", "done\n");
  w.wait_for_plane(5);
  calls = w.plane.accepted();
  CHECK(calls[3] == "PATCH " + item + " {\"state\":\"state-done\"}");
  CHECK(calls[4].find("deployed and healthy") != std::string::npos);
  CHECK(calls.size() == 5);
  // GET /tasks/{id}: the pipeline as the operator sees it.
  test::connection c{w.port};
  c.send_raw("GET /tasks/1 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
             admin_token + "\r\n\r\n");
  auto res = c.read_response();
  REQUIRE(test::status_of(res) == 200);
  auto task = json::parse(res.substr(res.find("\r\n\r\n") + 4));
  CHECK(task["stage"] == "done");
  CHECK(task["stage_history"].size() == 8);
  CHECK(task["stage_history"][1]["from"] == "analysis");
  CHECK(task["stage_history"][1]["to"] == "architecture");
  CHECK(task["expected_sha"] == sha);
  CHECK(task["last_ci_result"] == "success");
  CHECK(task["stuck_reason"].is_null());
  CHECK(task["brd_review"]["human_s"].is_number_integer());
  REQUIRE(task["runs"].size() == 6);
  CHECK(task["runs"][3]["agent"] == "reviewer");
  CHECK(task["runs"][3]["verdict"] == "approved");
  CHECK(task["runs"][4]["verdict"] == "deployed");
  CHECK(task["runs"][5]["verdict"] == "healthy");
  CHECK(task["runs"][0]["verdict"].is_null());
  CHECK(task["runs"][0]["tokens"]["cache_read"] == 5600);
  CHECK(task["cost_usd"].get<double>() == doctest::Approx(6 * 0.0123));
  CHECK(w.stop() == 0);
  CHECK(w.sql("SELECT from_stage || '>' || to_stage FROM stage_history "
              "ORDER BY id") == history_of_walk);
  CHECK(w.sql("SELECT agent, status, attempts FROM jobs ORDER BY id") ==
        "analyst|done|1\narchitect|done|1\ndeveloper|done|1\n"
        "reviewer|done|1\ndeployer|done|1\nverifier|done|1\n");
  CHECK(w.sql("SELECT agent, outcome FROM agent_runs ORDER BY id") ==
        "analyst|success\narchitect|success\ndeveloper|success\n"
        "reviewer|success\ndeployer|success\nverifier|success\n");
  CHECK(w.sql("SELECT COUNT(*) FROM tasks WHERE stuck_reason IS NOT NULL") ==
        "0\n");
  // The run's timeline, for the note.
  MESSAGE("timeline:\n"
          << w.sql("SELECT to_stage, at FROM stage_history ORDER BY id"));
}

TEST_CASE("CI failure, a changes-requested review and a merge-lock defer") {
  pipeline_world w;
  w.work_item("item-2", 7,
              "Fix it [reviewer_once:changes_requested] "
              "[deployer_once:merge_lock_busy]",
              "In Progress", "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  w.work_item("item-2", 7, "Fix it", "Approved", "started");
  auto branch = w.task_col("ET-007", "branch");
  auto first = w.wait_for_ci("ET-007");
  // CI fails: the developer runs again, told which check failed and where.
  w.ci(first, branch, "failure");
  auto second = w.wait_for_ci("ET-007", 1);
  CHECK(second != first);
  CHECK(second == w.origin_head(branch));
  auto fix = w.sql("SELECT task_content FROM jobs WHERE agent = 'developer' "
                   "ORDER BY id DESC LIMIT 1");
  CHECK(fix.find("CI failed on " + first) != std::string::npos);
  CHECK(fix.find("(failure) https://") != std::string::npos);
  // The late success of the first commit is stale.
  w.ci(first, branch, "success");
  w.ci(second, branch, "success");
  // The review asks for changes: the developer again, with the review.
  auto third = w.wait_for_ci("ET-007", 1, 1);
  CHECK(third != second);
  auto review = w.sql("SELECT task_content FROM jobs WHERE agent = "
                      "'developer' ORDER BY id DESC LIMIT 1");
  CHECK(review.find("The review asked for changes") != std::string::npos);
  CHECK(review.find("VERDICT: changes_requested") != std::string::npos);
  w.ci(third, branch, "success");
  // The deployer finds the merge lock taken: the same job runs again after
  // merge_defer_s, its attempt given back.
  w.wait_for("SELECT stage FROM tasks", "done\n");
  CHECK(w.stop() == 0);
  CHECK(w.sql("SELECT agent, status, attempts FROM jobs WHERE agent IN "
              "('developer', 'deployer') ORDER BY id") ==
        "developer|done|1\ndeveloper|done|1\ndeveloper|done|1\n"
        "deployer|done|1\n");
  CHECK(w.sql("SELECT COUNT(*) FROM agent_runs WHERE agent = 'deployer'") ==
        "2\n");
  CHECK(w.sql("SELECT ci_failures, review_rounds, stuck_reason FROM tasks") ==
        "1|1|NULL\n");
  CHECK(w.sql("SELECT from_stage || '>' || to_stage FROM stage_history "
              "ORDER BY id") ==
        "created>analysis\nanalysis>architecture\narchitecture>development\n"
        "development>ci\nci>development\ndevelopment>ci\nci>review\n"
        "review>development\ndevelopment>ci\nci>review\nreview>deploy\n"
        "deploy>verification\nverification>done\n");
}

TEST_CASE("a degraded deploy freezes the repo until an operator clears it") {
  pipeline_world w;
  w.work_item("item-3", 3, "Risky [verifier:degraded]", "In Progress",
              "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  w.work_item("item-3", 3, "Risky", "Approved", "started");
  auto sha = w.wait_for_ci("ET-003");
  w.ci(sha, w.task_col("ET-003", "branch"), "success");
  w.wait_for("SELECT stage FROM tasks", "done\n");
  CHECK(w.sql("SELECT repo, work_item_id FROM repo_freeze WHERE cleared_at "
              "IS NULL") == "acme/widgets|ET-003\n");
  // The next work item's analyst waits at the serial gate.
  w.work_item("item-4", 4, "Next", "In Progress", "started");
  w.wait_for("SELECT COUNT(*) FROM tasks WHERE work_item_id = 'ET-004' AND "
             "stage = 'analysis'",
             "1\n");
  CHECK_FALSE(w.proc->wait_until(
      [&] {
        return w.sql("SELECT status FROM jobs WHERE task_id = 2") != "queued\n";
      },
      std::chrono::seconds(2)));
  // Review state, BRD comment, then the freeze's comment (no done state).
  w.wait_for_plane(4);
  auto calls = w.plane.accepted();
  CHECK(calls.size() == 4);
  CHECK(calls[3].find("degraded") != std::string::npos);
  CHECK(calls[3].find("/serial-gate/unfreeze") != std::string::npos);
  auto res = w.post("/serial-gate/unfreeze",
                    "Authorization: Bearer " + admin_token + "\r\n",
                    R"({"repo":"acme/widgets"})");
  CHECK(test::status_of(res) == 200);
  w.wait_for("SELECT waiting FROM tasks WHERE work_item_id = 'ET-004'",
             "human_review\n");
  CHECK(w.stop() == 0);
}

TEST_CASE("a work item cancelled while its developer runs") {
  pipeline_world w;
  w.work_item("item-5", 5, "Long [developer_fake:slow]", "In Progress",
              "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  w.work_item("item-5", 5, "Long", "Approved", "started");
  w.wait_for("SELECT agent, status FROM jobs WHERE agent = 'developer'",
             "developer|running\n");
  w.wait_for("SELECT COUNT(*) FROM jobs WHERE agent = 'developer' AND pid IS "
             "NOT NULL",
             "1\n");
  auto pid = std::stoi(w.sql("SELECT pid FROM jobs WHERE agent = 'developer'"));
  w.work_item("item-5", 5, "Long", "Cancelled", "cancelled");
  w.wait_for("SELECT stage FROM tasks", "cancelled\n");
  w.wait_for("SELECT status, error FROM jobs WHERE agent = 'developer'",
             "failed|cancelled\n");
  CHECK(test::eventually([&] { return ::kill(pid, 0) != 0; }));
  w.wait_for("SELECT outcome FROM agent_runs WHERE agent = 'developer'",
             "cancelled\n");
  CHECK(w.sql("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', "
              "'running')") == "0\n");
  // The branch and the worktree are kept.
  CHECK(std::filesystem::exists(w.dir.file("work/acme__widgets/ET-005/.git")));
  // A CI result after the cancel changes nothing.
  w.ci(std::string(40, 'b'), w.task_col("ET-005", "branch"), "success");
  w.wait_for("SELECT COUNT(*) FROM events WHERE processed = 0", "0\n");
  CHECK(w.stop() == 0);
  CHECK(w.sql("SELECT stage FROM tasks") == "cancelled\n");
}

TEST_CASE("Plane down for a while: the pipeline never waits, calls land") {
  pipeline_world w;
  w.plane.fail_with(503);
  w.work_item("item-6", 6, "While Plane is down", "In Progress", "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  // Calls are tried, fail, and stay queued.
  REQUIRE(w.proc->wait_until([&] {
    return w.sql("SELECT COUNT(*) FROM plane_outbox WHERE attempts >= 2 "
                 "AND sent_at IS NULL") != "0\n";
  }));
  w.work_item("item-6", 6, "While Plane is down", "Approved", "started");
  auto sha = w.wait_for_ci("ET-006");
  w.ci(sha, w.task_col("ET-006", "branch"), "success");
  w.wait_for("SELECT stage FROM tasks", "done\n");
  CHECK(w.plane.accepted().empty());
  w.plane.fail_with(0);
  w.wait_for_plane(5);
  auto calls = w.plane.accepted();
  CHECK(calls[1].find("state-review") != std::string::npos);
  CHECK(calls[3].find("state-done") != std::string::npos);
  CHECK(w.stop() == 0);
}

TEST_CASE("kill -9 in the middle of the pipeline: the task carries on, no "
          "stage runs twice at once") {
  // The daemon dies right after the analyst's outcome is recorded, before
  // the job is finalised: the restart judges that success through the
  // pipeline instead of running the analyst again.
  pipeline_world w{{{"ORCHD_CRASH_AT", "after_outcome"}}};
  w.slow_s = "3";
  w.work_item("item-8", 8, "Survive [developer_fake:slow]", "In Progress",
              "started");
  CHECK(w.proc->wait_exit() == 128 + SIGKILL);
  w.exited = true;
  CHECK(w.sql("SELECT agent, status FROM jobs") == "analyst|running\n");
  w.start();
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  CHECK(w.sql("SELECT agent, status FROM jobs") == "analyst|done\n");
  CHECK(w.sql("SELECT COUNT(*) FROM agent_runs") == "1\n");
  // kill -9 while the developer runs: the restart stops its agent and
  // runs the developer once more (an interruption, no attempt spent).
  w.work_item("item-8", 8, "Survive", "Approved", "started");
  w.wait_for("SELECT COUNT(*) FROM jobs WHERE agent = 'developer' AND "
             "status = 'running' AND pid IS NOT NULL",
             "1\n");
  auto pid = std::stoi(w.sql("SELECT pid FROM jobs WHERE agent = 'developer'"));
  w.kill9();
  w.start();
  CHECK(test::eventually([&] { return ::kill(pid, 0) != 0; }));
  auto sha = w.wait_for_ci("ET-008");
  w.ci(sha, w.task_col("ET-008", "branch"), "success");
  w.wait_for("SELECT stage FROM tasks", "done\n");
  CHECK(w.stop() == 0);
  CHECK(w.sql("SELECT agent, status, attempts, interruptions FROM jobs "
              "WHERE agent = 'developer'") == "developer|done|1|1\n");
  CHECK(w.sql("SELECT outcome FROM agent_runs WHERE agent = 'developer' "
              "ORDER BY id") == "shutdown\nsuccess\n");
  CHECK(w.sql("SELECT COUNT(*) FROM (SELECT job_id FROM agent_runs WHERE "
              "outcome = 'success' GROUP BY job_id HAVING COUNT(*) > 1)") ==
        "0\n");
  CHECK(w.sql("SELECT from_stage || '>' || to_stage FROM stage_history "
              "ORDER BY id") == history_of_walk);
}

TEST_CASE("the reconciler recovers a lost webhook and reruns an idle stage") {
  pipeline_world w{{},
                   {{"reconciler",
                     {{"interval_s", 1},
                      {"list_work_items", true},
                      {"stage_grace_s", {{"architecture", 1}}}}}}};
  // Three work items Plane lists (two pages) whose webhooks never came;
  // the second is not in a trigger state.
  auto item = [](const std::string& id, int seq, const std::string& state,
                 const std::string& group) {
    return json{{"id", id},
                {"project", plane_project},
                {"name", "Listed " + std::to_string(seq) +
                             (seq == 11 ? " [architect_fake:slow]" : "")},
                {"sequence_id", seq},
                {"state", {{"id", "s"}, {"name", state}, {"group", group}}},
                {"labels", json::array()},
                {"description_stripped", ""},
                {"updated_at", "2026-04-01T09:00:00Z"}}
        .dump();
  };
  w.plane.add_work_item(item("lost-1", 11, "In Progress", "started"));
  w.plane.add_work_item(item("lost-2", 12, "Backlog", "backlog"));
  w.plane.add_work_item(item("lost-3", 13, "In Progress", "started"));
  // (ET-013's analyst waits at the repo's serial gate behind ET-011.)
  w.wait_for("SELECT work_item_id, waiting FROM tasks ORDER BY id",
             "ET-011|human_review\nET-013|NULL\n");
  CHECK(w.sql("SELECT status FROM jobs WHERE task_id = 2") == "queued\n");
  // Listed again every sweep: still one task each.
  w.wait_for("SELECT COUNT(*) >= 2 FROM events WHERE event_type = 'issue'",
             "1\n");
  // The operator cancels ET-011's architect (no event moves the task
  // then); past the stage's grace the reconciler runs it again, saying so
  // in its task.
  w.work_item("lost-1", 11, "Listed 11", "Approved", "started");
  w.wait_for("SELECT COUNT(*) FROM jobs WHERE agent = 'architect' AND "
             "status = 'running' AND pid IS NOT NULL",
             "1\n");
  auto job = w.sql("SELECT id FROM jobs WHERE agent = 'architect'");
  job.pop_back();
  auto res = w.post("/jobs/" + job + "/cancel",
                    "Authorization: Bearer " + admin_token + "\r\n", "");
  CHECK(test::status_of(res) == 200);
  w.wait_for("SELECT reconciles FROM tasks WHERE work_item_id = 'ET-011'",
             "1\n");
  auto rerun = w.sql("SELECT task_content FROM jobs WHERE agent = "
                     "'architect' ORDER BY id DESC LIMIT 1");
  CHECK(rerun.find("orchd's reconciler runs this stage again") !=
        std::string::npos);
  w.kill9(); // the rerun is slow too
  CHECK(w.sql("SELECT COUNT(*) FROM events WHERE source = 'plane' AND "
              "delivery_id LIKE 'reconciler:%'") == "2\n");
  CHECK(w.sql("SELECT COUNT(*) FROM tasks") == "2\n");
}

TEST_CASE("a BRD sent back for rework runs the analyst with the review") {
  pipeline_world w;
  w.work_item("item-9", 9, "Rework me", "In Progress", "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  auto started = w.task_col("ET-009", "brd_review_started_at");
  w.wait_for_plane(3);
  w.plane.add_human_comment("Please cover <b>retries</b> too");
  w.work_item("item-9", 9, "Rework me", "Rework", "started");
  w.wait_for("SELECT COUNT(*) FROM jobs WHERE agent = 'analyst' AND status = "
             "'done'",
             "2\n");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  auto second = w.sql("SELECT task_content FROM jobs WHERE agent = 'analyst' "
                      "ORDER BY id DESC LIMIT 1");
  CHECK(second.find("The reviewer asked for rework:\n\nPlease cover retries "
                    "too") != std::string::npos);
  // The review's start is stamped once.
  CHECK(w.task_col("ET-009", "brd_review_started_at") == started);
  CHECK(w.stop() == 0);
  CHECK(w.sql("SELECT stage FROM tasks") == "analysis\n");
}

TEST_CASE("an analyst that writes no BRD: a fault, then stuck for a human") {
  pipeline_world w;
  w.work_item("item-10", 10, "No BRD [fake:no_brd]", "In Progress", "started");
  w.wait_for("SELECT status, attempts FROM jobs", "failed|2\n");
  w.wait_for("SELECT stuck_reason IS NOT NULL FROM tasks", "1\n");
  CHECK(w.task_col("ET-010", "stage") == "analysis");
  CHECK(w.task_col("ET-010", "stuck_reason")
            .find("wrote no BRD at docs/work-items/ET-010/brd.md") !=
        std::string::npos);
  w.wait_for_plane(1);
  auto calls = w.plane.accepted();
  CHECK(calls.back().find("ET-010 is stuck") != std::string::npos);
  CHECK(w.stop() == 0);
}
