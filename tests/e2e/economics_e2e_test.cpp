// Cost control through the real daemon (issue 15): a task over its budget
// pauses and resumes when raised, a project's daily budget holds its next
// task until the project's midnight, a usage limit holds the account's
// queued jobs until the reset, and /costs adds up to the runs.
#include "tests/support/pipeline_world.hpp"

#include <chrono>
#include <ctime>

using namespace orchd;
using namespace orchd::test;
using json = nlohmann::json;

namespace {

// The project's entry with extra keys (a config's list replaces the
// default's whole).
json project_with(const pipeline_world& w, json extra) {
  json p = {{"repo", "acme/widgets"},
            {"prefix", "ET"},
            {"clone_path", w.clone},
            {"plane_project_id", plane_project},
            {"telegram_chat_id", chat}};
  p.merge_patch(extra);
  return json::array({p});
}

// Writes the world's config with `patch` and restarts the daemon on it.
void restart_with(pipeline_world& w, const json& patch) {
  REQUIRE(w.stop() == 0);
  std::ifstream in{w.dir.file("orchd.json")};
  auto cfg = json::parse(in);
  cfg.merge_patch(patch);
  std::ofstream{w.dir.file("orchd.json")} << cfg.dump();
  w.start();
}

std::string post_json(pipeline_world& w, const std::string& target,
                      const json& body) {
  return w.post(target, "Authorization: Bearer " + admin_token + "\r\n",
                body.dump());
}

// A zone whose midnight is `seconds` from now, as +HH:MM:SS or -HH:MM:SS.
std::string zone_with_midnight_in(int64_t seconds) {
  auto now = static_cast<int64_t>(std::time(nullptr));
  auto offset = ((86400 - (now + seconds) % 86400) % 86400 + 86400) % 86400;
  if (offset > 43200)
    offset -= 86400;
  auto a = offset < 0 ? -offset : offset;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02lld:%02lld:%02lld",
                offset < 0 ? '-' : '+', static_cast<long long>(a / 3600),
                static_cast<long long>(a / 60 % 60),
                static_cast<long long>(a % 60));
  return buf;
}

} // namespace

TEST_CASE("a task with a tiny budget pauses after its first run and resumes "
          "when raised") {
  pipeline_world w;
  // Its own budget: one fake run costs $0.0123.
  w.work_item("item-1", 42, "Add retry", "In Progress", "started",
              "Retry the sender.\nBudget: $0.01\n");
  w.wait_for("SELECT stage, waiting, budget_usd FROM tasks",
             "analysis|human_review|0.01\n");
  w.work_item("item-1", 42, "Add retry", "Approved", "started");
  // The architect's job is held, not claimed, not failed.
  w.wait_for("SELECT status, held LIKE 'task budget: spent $0.01%' FROM jobs "
             "WHERE agent = 'architect'",
             "queued|1\n");
  CHECK(w.sql("SELECT COUNT(*) FROM agent_runs WHERE agent = 'architect'") ==
        "0\n");
  CHECK(w.task_col("ET-042", "budget_paused") != "");
  auto job_id = w.sql("SELECT id FROM jobs WHERE agent = 'architect'");
  job_id.pop_back();
  auto [status, job] = w.admin_get("/jobs/" + job_id);
  CHECK(status == 200);
  CHECK(job["held"].get<std::string>().find("task budget") == 0);
  auto [qs, queue] = w.admin_get("/queue");
  CHECK(qs == 200);
  REQUIRE(queue["held"].size() == 1);
  CHECK(queue["held"][0]["agent"] == "architect");
  CHECK(queue["counts"]["held"] == 1);
  auto [ts, task] = w.admin_get("/tasks/1");
  CHECK(task["budget"]["budget_usd"] == 0.01);
  CHECK(task["budget"]["paused"].is_string());
  CHECK(task["budget"]["spent_usd"] == 0.0123);
  double by_stage = 0;
  for (auto& line : task["cost_by_stage"])
    by_stage += line["cost_usd"].get<double>();
  CHECK(by_stage == doctest::Approx(0.0123));
  // Plane hears of the pause once, with the way out.
  w.wait_for_plane(4);
  auto calls = w.plane.accepted();
  CHECK(calls[3].find("orchd paused this work item") != std::string::npos);
  CHECK(calls[3].find("/tasks/1/budget") != std::string::npos);
  CHECK(w.proc->output().find("task 1 paused for budget") != std::string::npos);
  // Bad budgets are refused and change nothing.
  CHECK(status_of(post_json(w, "/tasks/1/budget", {{"budget_usd", -5}})) ==
        400);
  CHECK(status_of(post_json(w, "/tasks/99/budget", {{"budget_usd", 5}})) ==
        404);
  CHECK(w.sql("SELECT budget_usd FROM tasks") == "0.01\n");
  // Raised: the held job is released at once and the task goes on.
  auto res = post_json(w, "/tasks/1/budget", {{"budget_usd", 5}});
  REQUIRE_MESSAGE(status_of(res) == 200, res);
  CHECK(res.find("\"released\":1") != std::string::npos);
  w.wait_for_ci("ET-042");
  CHECK(w.task_col("ET-042", "budget_paused") == "NULL");
  CHECK(w.sql("SELECT COUNT(*) FROM jobs WHERE held IS NOT NULL") == "0\n");
}

TEST_CASE("a daily budget holds a project's next task until its midnight") {
  pipeline_world w;
  // Midnight in the project's zone a few seconds after the first run.
  restart_with(w,
               {{"scheduler", {{"serial_gate_agents", json::array()}}},
                {"projects",
                 project_with(w, {{"daily_budget_usd", 0.02},
                                  {"time_zone", zone_with_midnight_in(15)}})}});
  w.work_item("item-1", 1, "First", "In Progress", "started");
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE finished_at IS NOT NULL",
             "1\n");
  // $0.0123 spent today, a run costs about as much: over $0.02.
  w.work_item("item-2", 2, "Second", "In Progress", "started");
  w.wait_for("SELECT held LIKE 'daily budget%', held_until IS NOT NULL FROM "
             "jobs WHERE task_id = 2",
             "1|1\n");
  auto until = w.sql("SELECT held_until FROM jobs WHERE task_id = 2");
  // At the project's midnight the new day's budget lets it run.
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE task_id = 2", "1\n",
             std::chrono::seconds(40));
  until.pop_back();
  CHECK(w.sql("SELECT MIN(started_at) >= '" + until +
              "' FROM agent_runs WHERE task_id = 2") == "1\n");
}

TEST_CASE("a usage limit holds the account's other queued jobs until the "
          "reset") {
  pipeline_world w{
      {{"FAKE_AGENT_MODE", "usage_limit"},
       {"FAKE_AGENT_LIMIT_RUNS", "1"},
       {"FAKE_AGENT_RESET_S", "5"}},
      {{"scheduler",
        {{"serial_gate_agents", json::array()}, {"max_concurrency", 1}}}}};
  for (int i = 1; i <= 3; ++i)
    w.work_item("item-" + std::to_string(i), i, "Item " + std::to_string(i),
                "In Progress", "started");
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE outcome = 'transient'",
             "1\n");
  auto [qs, queue] = w.admin_get("/queue");
  CHECK(qs == 200);
  REQUIRE(queue["held_accounts"].size() == 1);
  CHECK(queue["held_accounts"][0]["account"] == "default");
  // The other two start only after the reset; every analyst then runs.
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE outcome = 'success'", "3\n",
             std::chrono::seconds(40));
  std::ifstream reset_file{w.dir.file("agent-state/fake-agent-usage.reset")};
  int64_t reset = 0;
  reset_file >> reset;
  std::ifstream trace{w.dir.file("trace")};
  std::string what;
  int64_t job = 0;
  int64_t ns = 0;
  int before = 0;
  while (trace >> what >> job >> ns)
    if (what == "start" && ns < reset * 1000000000)
      ++before;
  CHECK(before == 1);
  CHECK(w.proc->output().find("account default held") != std::string::npos);
  CHECK(w.proc->output().find("account default released") != std::string::npos);
}

TEST_CASE("/costs totals equal the sum of the runs; a cost without a report "
          "comes from the price table") {
  pipeline_world w{{},
                   {{"scheduler", {{"serial_gate_agents", json::array()}}},
                    {"prices",
                     {{"fake-model-1",
                       {{"input", 1.0},
                        {"output", 2.0},
                        {"cache_read", 0.1},
                        {"cache_creation", 1.0}}}}}}};
  w.work_item("item-1", 1, "Priced", "In Progress", "started");
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE finished_at IS NOT NULL",
             "1\n");
  w.work_item("item-2", 2, "Unpriced [fake:unpriced]", "In Progress",
              "started");
  w.wait_for("SELECT COUNT(*) FROM agent_runs WHERE finished_at IS NOT NULL",
             "2\n");
  // 12 input, 78 output, 5600 cache read, 340 cache write at 1, 2, 0.1, 1.
  CHECK(w.sql("SELECT cost_computed, ROUND(cost_usd * 1e6) FROM agent_runs "
              "ORDER BY id") == "0|12300.0\n1|1068.0\n");
  auto db_cost = std::stod(w.sql("SELECT TOTAL(cost_usd) FROM agent_runs"));
  for (auto by : {"task", "stage", "agent", "model", "project", "day"}) {
    CAPTURE(by);
    auto [status, costs] = w.admin_get(std::string{"/costs?by="} + by);
    REQUIRE(status == 200);
    auto& total = costs["total"];
    CHECK(total["cost_usd"].get<double>() == doctest::Approx(db_cost));
    CHECK(total["runs"] == 2);
    CHECK(total["computed_runs"] == 1);
    CHECK(total["tokens"]["input"] == 24);
    CHECK(total["tokens"]["cache_read"] == 11200);
    int64_t runs = 0;
    double usd = 0;
    for (auto& row : costs["rows"]) {
      runs += row["runs"].get<int64_t>();
      usd += row["cost_usd"].get<double>();
    }
    CHECK(runs == 2);
    CHECK(usd == doctest::Approx(total["cost_usd"].get<double>()));
    CHECK(total["cache_read_share"].get<double>() ==
          doctest::Approx(11200.0 / (24 + 11200 + 680)));
  }
  auto [bad, refused] = w.admin_get("/costs?by=colour");
  CHECK(bad == 400);
  CHECK(refused["error"].get<std::string>().find("by must be") !=
        std::string::npos);
  CHECK(w.admin_get("/costs?since=yesterday").first == 400);
  CHECK(w.admin_get("/costs?by=day&limit=3").first == 400);
  // The console's table of the same.
  setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
  auto [code, out] = run_to_end(ORCHD_BINARY,
                                {"console", "--url",
                                 "http://127.0.0.1:" + std::to_string(w.port),
                                 "costs", "--by", "model"},
                                w.dir.path().string());
  unsetenv("ORCHD_ADMIN_TOKEN");
  CHECK(code == 0);
  CHECK(out.find("fake-model-1") != std::string::npos);
  CHECK(out.find("total") != std::string::npos);
}
