// Issue 15's pure parts: a run's cost from the price table, the typical
// cost, the budget decision, and a work item's own budget line.
#include "actors/logic/economics.hpp"

#include <doctest/doctest.h>

using namespace orchd;
using namespace orchd::economics;

namespace {

const price_table prices{{"claude-sonnet", {3, 15, 0.3, 3.75}}};

run_usage tokens(int64_t in, int64_t out, int64_t read, int64_t made) {
  run_usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.cache_read_tokens = read;
  u.cache_creation_tokens = made;
  return u;
}

} // namespace

TEST_CASE("economics: a reported cost wins; else the price table") {
  auto u = tokens(1'000'000, 100'000, 2'000'000, 10'000);
  u.cost_usd = 1.25;
  auto reported = cost_of(u, "claude-sonnet", prices);
  CHECK(reported.usd == 1.25);
  CHECK_FALSE(reported.computed);
  u.cost_usd = caf::none;
  auto computed = cost_of(u, "claude-sonnet", prices);
  REQUIRE(computed.usd);
  // 3 + 1.5 + 0.6 + 0.0375
  CHECK(*computed.usd == doctest::Approx(5.1375));
  CHECK(computed.computed);
  // Unknown model, or no tokens: no cost (the tokens are kept elsewhere).
  CHECK_FALSE(cost_of(u, "other-model", prices).usd);
  CHECK_FALSE(cost_of(run_usage{}, "claude-sonnet", prices).usd);
}

TEST_CASE("economics: the typical cost is the median of the newest 20") {
  CHECK_FALSE(typical_cost({}));
  CHECK(*typical_cost({4}) == 4);
  CHECK(*typical_cost({1, 9, 5}) == 5);
  CHECK(*typical_cost({1, 2, 3, 10}) == 2.5);
  std::vector<double> recent(20, 1.0);
  recent.push_back(100); // the 21st newest is out of the window
  recent.push_back(100);
  CHECK(*typical_cost(recent) == 1.0);
}

TEST_CASE("economics: the budget decision under, at, over, no history") {
  CHECK(check_budget(5, 2, 10).allowed);       // under
  CHECK(check_budget(8, 2, 10).allowed);       // exactly at
  CHECK_FALSE(check_budget(9, 2, 10).allowed); // the next run would pass it
  CHECK_FALSE(check_budget(10, caf::none, 10).allowed); // used up
  auto fresh = check_budget(3, caf::none, 10);          // no history
  CHECK(fresh.allowed);
  CHECK(fresh.expected == 0);
  CHECK(check_budget(1e6, 50, caf::none).allowed); // no budget
}

TEST_CASE("economics: a Budget line in the description") {
  CHECK(*budget_in("Fix it.\nBudget: $40\nthanks") == 40);
  CHECK(*budget_in("  **budget: 12.50") == 12.5);
  CHECK(*budget_in("BUDGET:7") == 7);
  CHECK_FALSE(budget_in("no budget here"));
  CHECK_FALSE(budget_in("Budget: $0"));
  CHECK_FALSE(budget_in("Budget: lots"));
  CHECK_FALSE(budget_in("Budget: 1.2.3"));
  CHECK_FALSE(budget_in("the budget: $40 line must start the line"));
}

TEST_CASE("the hold rule: the task's budget first, then the project's day") {
  budget_facts f;
  CHECK_FALSE(economics::budget_hold(f)); // no budget at all
  f.budget = 10.0;
  f.spent = 6.0;
  f.recent = {3.0, 5.0, 4.0}; // typical 4.0: 10.0 fits exactly
  CHECK_FALSE(economics::budget_hold(f));
  f.spent = 6.5;
  auto held = economics::budget_hold(f);
  REQUIRE(held);
  CHECK(held->reason ==
        "task budget: spent $6.50, a run costs about $4.00, budget $10.00");
  CHECK(held->until.empty());
  f.budget = caf::none;
  f.daily_budget = 20.0;
  f.spent_today = 19.0;
  f.next_midnight = "2026-12-04 22:00:00";
  held = economics::budget_hold(f);
  REQUIRE(held);
  CHECK(held->reason.find("daily budget: project spent $19.00 today") == 0);
  CHECK(held->until == "2026-12-04 22:00:00");
  f.spent_today = 10.0;
  CHECK_FALSE(economics::budget_hold(f));
}

TEST_CASE("a project's time zone is an offset east of UTC") {
  CHECK(*utc_offset_of("UTC") == 0);
  CHECK(*utc_offset_of("+02:00") == 7200);
  CHECK(*utc_offset_of("-05:30") == -(5 * 3600 + 30 * 60));
  CHECK(*utc_offset_of("+00:00:30") == 30);
  for (auto bad : {"", "Europe/Berlin", "+2:00", "+24:00", "+02:60", "02:00",
                   "+02-00", "+02:00:"})
    CHECK_FALSE(utc_offset_of(bad));
}
