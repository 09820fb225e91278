// The cost ledger and the budget holds, on a real SQLite file: /costs sums
// equal the runs, a task over budget is held (not claimed) and paused once,
// a new budget releases it, a daily budget holds until the project's
// midnight.
#include "storage/store.hpp"

#include "actors/logic/economics.hpp"
#include "tests/support/test.hpp"

#include <map>

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

struct costs_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};

  costs_fixture() { st.set_hold_rule(&economics::budget_hold); }

  int64_t task(const std::string& plane_id, const std::string& repo) {
    return unbox(st.create_task(new_task{plane_id, "", repo, "", ""})).task.id;
  }

  int64_t job(int64_t task_id, const std::string& agent = "developer",
              const std::string& repo = "acme/r") {
    new_job x;
    x.agent = agent;
    x.repo = repo;
    x.task_id = task_id;
    x.task_content = "do it";
    return unbox(st.enqueue(x));
  }

  // A finished run of the task: its model and cost as the agent reported.
  int64_t run(caf::optional<int64_t> task_id, const std::string& agent,
              caf::optional<double> cost, const std::string& model = "m1",
              bool computed = false) {
    auto id = unbox(st.start_run(new_run{task_id, agent, "", "", ""}));
    run_outcome out;
    out.run_id = id;
    out.usage.input_tokens = 10;
    out.usage.output_tokens = 20;
    out.usage.cache_read_tokens = 300;
    out.usage.cache_creation_tokens = 40;
    out.usage.cost_usd = cost;
    out.model = model;
    out.outcome = run_kind::success;
    out.cost_computed = computed;
    unbox(st.finish_run(out));
    return id;
  }

  int64_t claim(const claim_options& opts = {}) {
    auto j = st.claim_next_job(opts);
    if (!j) {
      REQUIRE(j.error() == ec::no_claimable_job);
      return 0;
    }
    return j->id;
  }

  void set_task_budget(int64_t task_id, double usd) {
    auto q = db->prepare("UPDATE tasks SET budget_usd = ?2 WHERE id = ?1");
    q->bind(1, task_id);
    q->bind(2, usd);
    q->step();
  }
};

} // namespace

TEST_CASE_FIXTURE(costs_fixture, "the ledger's totals equal the runs' sums") {
  auto a = task("p-1", "acme/r");
  auto b = task("p-2", "acme/s");
  run(a, "analyst", 0.5);
  run(a, "developer", 1.25, "m2");
  run(b, "developer", 2.0, "m2", true);
  run(b, "reviewer", caf::none, "unknown-model");
  run(caf::none, "analyst", 0.25);
  auto runs = sql_rows(*db, "SELECT COUNT(*), TOTAL(cost_usd), "
                            "TOTAL(input_tokens), TOTAL(cache_read_tokens) "
                            "FROM agent_runs");
  CHECK(runs == "5|4.0|50.0|1500.0\n");
  for (auto by : {"task", "stage", "agent", "model", "project", "day"}) {
    CAPTURE(by);
    auto r = unbox(st.costs(cost_query{by, "", ""}));
    int64_t n = 0;
    int64_t input = 0;
    int64_t cache_read = 0;
    double usd = 0;
    for (auto& line : r.lines) {
      n += line.runs;
      input += line.input_tokens;
      cache_read += line.cache_read_tokens;
      usd += line.cost_usd;
    }
    CHECK(n == 5);
    CHECK(input == 50);
    CHECK(cache_read == 1500);
    CHECK(usd == doctest::Approx(4.0));
    CHECK(r.total.runs == 5);
    CHECK(r.total.priced_runs == 4);
    CHECK(r.total.computed_runs == 1);
    CHECK(r.total.cost_usd == doctest::Approx(4.0));
  }
  auto by_agent = unbox(st.costs(cost_query{"agent", "", ""}));
  REQUIRE(by_agent.lines.size() == 3);
  // Most expensive first.
  CHECK(by_agent.lines[0].key == "developer");
  CHECK(by_agent.lines[0].cost_usd == doctest::Approx(3.25));
  auto by_project = unbox(st.costs(cost_query{"project", "", ""}));
  CHECK(by_project.lines[0].key == "acme/s");
  CHECK(by_project.lines[0].runs == 2);
  // A day range: today's runs are all of them; yesterday has none.
  auto today = sql_rows(*db, "SELECT date('now')");
  today.pop_back();
  auto in_range = unbox(st.costs(cost_query{"task", today, today}));
  CHECK(in_range.total.runs == 5);
  auto yesterday = sql_rows(*db, "SELECT date('now', '-1 day')");
  yesterday.pop_back();
  auto none = unbox(st.costs(cost_query{"agent", yesterday, yesterday}));
  CHECK(none.lines.empty());
  CHECK(none.total.runs == 0);
}

TEST_CASE_FIXTURE(costs_fixture, "a run whose model changes moves in the "
                                 "ledger; a second finish does not count "
                                 "twice") {
  auto t = task("p-1", "acme/r");
  auto id = run(t, "developer", 1.0, "m1");
  run_outcome again;
  again.run_id = id;
  again.usage.cost_usd = 1.5;
  again.model = "m2";
  unbox(st.finish_run(again));
  auto r = unbox(st.costs(cost_query{"model", "", ""}));
  REQUIRE(r.lines.size() == 1);
  CHECK(r.lines[0].key == "m2");
  CHECK(r.lines[0].runs == 1);
  CHECK(r.lines[0].cost_usd == doctest::Approx(1.5));
  CHECK(r.total.cost_usd == doctest::Approx(1.5));
}

TEST_CASE_FIXTURE(costs_fixture, "a range counts a key's runs inside it, "
                                 "whether the key lies inside or across it") {
  auto a = task("p-1", "acme/r");
  auto b = task("p-2", "acme/r");
  auto day = [&](int64_t run, const char* when) {
    auto q = db->prepare("UPDATE agent_runs SET started_at = ?2 WHERE id = ?1");
    q->bind(1, run);
    q->bind(2, std::string_view{when});
    q->step();
  };
  day(run(a, "developer", 1.0), "2026-03-01 10:00:00");
  day(run(a, "developer", 2.0), "2026-03-03 10:00:00");
  day(run(b, "developer", 4.0), "2026-03-02 10:00:00");
  auto cost_of = [&](const std::string& since, const std::string& until) {
    std::map<std::string, double> out;
    for (auto& line : unbox(st.costs(cost_query{"task", since, until})).lines)
      out[line.key] = line.cost_usd;
    return out;
  };
  using costs = std::map<std::string, double>;
  CHECK(cost_of("2026-03-02", "2026-03-02") == costs{{"2", 4.0}});
  CHECK(cost_of("2026-03-01", "2026-03-02") == costs{{"1", 1.0}, {"2", 4.0}});
  CHECK(cost_of("2026-03-02", "2026-03-03") == costs{{"1", 2.0}, {"2", 4.0}});
  CHECK(cost_of("2026-03-01", "2026-03-03") == costs{{"1", 3.0}, {"2", 4.0}});
  CHECK(cost_of("2026-03-04", "").empty());
  CHECK(cost_of("", "2026-03-01") == costs{{"1", 1.0}});
  // A run moved to another day moves with it.
  day(3, "2026-03-05 10:00:00");
  CHECK(cost_of("2026-03-02", "2026-03-03") == costs{{"1", 2.0}});
}

TEST_CASE_FIXTURE(costs_fixture, "a deleted run leaves the ledger") {
  auto t = task("p-1", "acme/r");
  run(t, "developer", 1.0);
  auto gone = run(t, "developer", 2.0);
  auto q = db->prepare("DELETE FROM agent_runs WHERE id = ?1");
  q->bind(1, gone);
  q->step();
  auto r = unbox(st.costs(cost_query{"agent", "", ""}));
  CHECK(r.total.runs == 1);
  CHECK(r.total.cost_usd == doctest::Approx(1.0));
}

TEST_CASE_FIXTURE(costs_fixture, "a bad ledger query is refused") {
  CHECK(st.costs(cost_query{"colour", "", ""}).error() == ec::invalid_argument);
  CHECK(st.costs(cost_query{"day", "2026-13-01", ""}).error() ==
        ec::invalid_argument);
  CHECK(st.costs(cost_query{"day", "yesterday", ""}).error() ==
        ec::invalid_argument);
  CHECK(st.costs(cost_query{"day", "2026-02-01", "2026-01-01"}).error() ==
        ec::invalid_argument);
}

TEST_CASE_FIXTURE(costs_fixture, "a task over budget is held, paused once, "
                                 "and a new budget releases it") {
  auto t = task("p-1", "acme/r");
  set_task_budget(t, 1.0);
  run(t, "analyst", 0.75);
  run(t, "developer", 0.5); // the developer's typical run
  // Spent 1.25 of 1.0: held, not claimed, not failed.
  auto held = job(t);
  CHECK(claim() == 0);
  auto row = unbox(st.job_by_id(held));
  CHECK(row.status == job_status::queued);
  CHECK(row.attempts == 0);
  CHECK(row.held.find("task budget") == 0);
  CHECK(row.held_until.empty());
  CHECK(sql_rows(*db, "SELECT budget_paused IS NOT NULL FROM tasks") == "1\n");
  CHECK(sql_rows(*db, "SELECT kind, body LIKE 'orchd paused%' FROM "
                      "plane_outbox") == "comment|1\n");
  CHECK(st.count_jobs().held == 1);
  CHECK(st.held_jobs().size() == 1);
  // A second job of the task is held too, but the pause is said once.
  job(t, "reviewer");
  CHECK(claim() == 0);
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM plane_outbox") == "1\n");
  // Another task without a budget is claimed past them.
  auto other = job(task("p-2", "acme/r"));
  CHECK(claim() == other);
  // A raised budget releases both; the claim checks again and takes them.
  CHECK(unbox(st.set_budget(budget_change{t, 5.0})) == 2);
  CHECK(claim() == held);
  CHECK(unbox(st.job_by_id(held)).held.empty());
  CHECK(sql_rows(*db, "SELECT budget_usd, budget_paused FROM tasks WHERE "
                      "id = 1") == "5.0|NULL\n");
  auto budget = st.budget_of(t, st.runs_of_task(t));
  CHECK(*budget.budget_usd == doctest::Approx(5.0));
  CHECK(budget.spent_usd() == doctest::Approx(1.25));
  REQUIRE(budget.by_stage.size() == 1); // runs without a stage
  CHECK(budget.by_stage[0].runs == 2);
  CHECK(budget.by_stage[0].input_tokens == 20);
  CHECK(st.set_budget(budget_change{t, -1}).error() == ec::invalid_argument);
  CHECK(st.set_budget(budget_change{999, 1}).error() == ec::no_such_task);
}

TEST_CASE_FIXTURE(costs_fixture, "the next run's typical cost counts: spend "
                                 "plus the median must fit") {
  auto t = task("p-1", "acme/r");
  set_task_budget(t, 1.9);
  run(t, "developer", 0.5);
  // Another task of the project taught the rest: the median of 0.5, 1.0,
  // 2.0 and 3.0 is 1.5.
  auto u = task("p-2", "acme/r");
  for (double c : {1.0, 2.0, 3.0})
    run(u, "developer", c);
  // 0.5 spent + 1.5 expected > 1.9, though 0.5 alone is under it.
  job(t);
  CHECK(claim() == 0);
  // The project's default applies to a task with no budget of its own.
  claim_options opts;
  opts.budgets.push_back({"acme/r", 100.0, 0, 0});
  auto v = task("p-3", "acme/r");
  auto free = job(v);
  CHECK(claim(opts) == free);
}

TEST_CASE_FIXTURE(costs_fixture, "a daily budget holds until the project's "
                                 "midnight") {
  auto t = task("p-1", "acme/r");
  run(t, "developer", 1.0);
  run(t, "analyst", 1.5);
  auto next = job(task("p-2", "acme/r"));
  claim_options opts;
  opts.budgets.push_back({"acme/r", 0, 2.0, 2 * 3600 + 30 * 60});
  CHECK(claim(opts) == 0);
  auto row = unbox(st.job_by_id(next));
  CHECK(row.held.find("daily budget") == 0);
  auto midnight = sql_rows(*db, "SELECT datetime('now', '+9000 seconds', "
                                "'start of day', '+1 day', '-9000 seconds')");
  midnight.pop_back();
  CHECK(row.held_until == midnight);
  // The queue's next due time is that midnight.
  auto due = st.next_due_in_ms();
  REQUIRE(due);
  CHECK(*due > 0);
  CHECK(*due <= 24 * 3600 * 1000);
  // Once it has passed (moved back here), the claim checks again: a new day
  // has spent nothing, and the developer's typical 1.0 fits in 2.0.
  auto q = db->prepare("UPDATE jobs SET held_until = datetime('now', '-1 "
                       "second') WHERE id = ?1");
  q->bind(1, next);
  q->step();
  auto r = db->prepare("UPDATE agent_runs SET started_at = datetime('now', "
                       "'-2 days')");
  r->step();
  CHECK(claim(opts) == next);
}

TEST_CASE_FIXTURE(costs_fixture, "without a hold rule nothing is held") {
  st.set_hold_rule({});
  auto t = task("p-1", "acme/r");
  set_task_budget(t, 0.01);
  run(t, "developer", 5.0);
  auto j = job(t);
  CHECK(claim() == j);
}

TEST_CASE_FIXTURE(costs_fixture, "a held account's agents are skipped") {
  auto a = job(task("p-1", "acme/r"), "developer");
  auto b = job(task("p-2", "acme/r"), "reviewer");
  claim_options opts;
  opts.held_agents = {"developer"};
  CHECK(claim(opts) == b);
  CHECK(claim(opts) == 0);
  CHECK(claim() == a);
}
