// The cost ledger's records (issue 15): what runs cost, grouped; the holds
// a budget or an account's usage limit puts on jobs. Included by
// records.hpp.
#pragma once

#include "actors/core/records.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace orchd {

/// GET /costs: runs grouped `by` one of task, stage, agent, model, project
/// or day, started in [since, until) (UTC `YYYY-MM-DD[ HH:MM:SS]`, "" for
/// open).
struct cost_query {
  std::string by = "agent";
  std::string since = {};
  std::string until = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cost_query& x) {
  return f(caf::meta::type_name("orchd::cost_query"), x.by, x.since, x.until);
}

/// One group's totals. Runs without a cost (an unknown model, no report)
/// count in `runs` and their tokens, not in `cost_usd` or `priced_runs`.
struct cost_line {
  std::string key;
  int64_t runs = 0;
  int64_t priced_runs = 0;
  /// Of the priced, those whose cost was computed from the price table.
  int64_t computed_runs = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cache_creation_tokens = 0;
  double cost_usd = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cost_line& x) {
  return f(caf::meta::type_name("orchd::cost_line"), x.key, x.runs,
           x.priced_runs, x.computed_runs, x.input_tokens, x.output_tokens,
           x.cache_read_tokens, x.cache_creation_tokens, x.cost_usd);
}

/// The ledger's answer: each group, most expensive first, and the total.
struct cost_report {
  cost_query query;
  std::vector<cost_line> lines;
  cost_line total;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cost_report& x) {
  return f(caf::meta::type_name("orchd::cost_report"), x.query, x.lines,
           x.total);
}

/// A whole account held until its usage limit resets (the scheduler's).
struct account_hold {
  std::string account;
  /// UTC `YYYY-MM-DD HH:MM:SS`.
  std::string until;
  std::string reason;
  /// The agents whose jobs wait.
  std::vector<std::string> agents;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_hold& x) {
  return f(caf::meta::type_name("orchd::account_hold"), x.account, x.until,
           x.reason, x.agents);
}

/// A task's budget and spend (GET /tasks/{id}, its card).
struct task_budget {
  caf::optional<double> budget_usd;
  /// Why its jobs are held for budget ("" when they are not).
  std::string paused = {};
  /// Its cost by stage.
  std::vector<cost_line> by_stage = {};

  /// What it spent: its stages' costs.
  double spent_usd() const {
    double usd = 0;
    for (auto& line : by_stage)
      usd += line.cost_usd;
    return usd;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_budget& x) {
  return f(caf::meta::type_name("orchd::task_budget"), x.budget_usd, x.paused,
           x.by_stage);
}

/// POST /tasks/{id}/budget.
struct budget_change {
  int64_t task_id = 0;
  double budget_usd = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, budget_change& x) {
  return f(caf::meta::type_name("orchd::budget_change"), x.task_id,
           x.budget_usd);
}

/// What the claim knows of a job's task before it claims it: its budget
/// and spend, what the agent's recent runs in the project cost (newest
/// first), and the project's day.
struct budget_facts {
  caf::optional<double> budget;
  double spent = 0;
  std::vector<double> recent;
  caf::optional<double> daily_budget;
  double spent_today = 0;
  /// The project's next midnight, UTC `YYYY-MM-DD HH:MM:SS`.
  std::string next_midnight;
};

/// Why a job is held, and until when ("" until released by hand).
struct job_hold {
  std::string reason;
  std::string until;
};

/// Decides a hold from the facts (economics::budget_hold in the daemon;
/// storage only gathers the facts and writes the hold).
using hold_rule = std::function<caf::optional<job_hold>(const budget_facts&)>;

} // namespace orchd
