// What agent runs cost and whether a task may spend more (issue 15): pure
// functions over a run's usage, a price table, recent costs and a budget.
// The scheduler and storage wire them in; nothing here reads a clock or a
// file.
#pragma once

#include "actors/core/records.hpp"
#include "actors/logic/config.hpp"

#include <caf/optional.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace orchd::economics {

/// A model's prices (the config's `prices`), by model name.
using price = model_price;
using price_table = std::map<std::string, model_price>;

/// A run's cost: the agent's reported `total_cost_usd` when it gave one,
/// else computed from the price table (`computed`), else none (unknown
/// model, or no tokens reported).
struct run_cost {
  caf::optional<double> usd;
  bool computed = false;
};

run_cost cost_of(const run_usage& usage, const std::string& model,
                 const price_table& prices);

/// The agent's typical cost: the median of the newest `window` costs
/// (`recent` newest first); none without history.
caf::optional<double> typical_cost(const std::vector<double>& recent,
                                   size_t window = 20);

/// Whether a task's next job may be claimed.
struct budget_check {
  bool allowed = true;
  double spent = 0;
  /// What the next run is expected to cost (0 without history).
  double expected = 0;
  caf::optional<double> budget;
};

/// Held when the task has used its budget up, or its spend plus the
/// typical run would pass it; exactly at the budget is allowed. No budget:
/// always allowed.
budget_check check_budget(double spent, caf::optional<double> typical,
                          caf::optional<double> budget);

/// A work item's own budget: a `Budget: $40` line (case-insensitive, the
/// dollar sign and cents optional) in its description; none otherwise or
/// when not a positive amount.
caf::optional<double> budget_in(std::string_view description);

/// "$12.34": how orchd writes an amount (cards, holds, the console).
std::string dollars(double usd);

/// The hold rule the claim uses (storage gathers the facts): the task's
/// budget first, then the project's day; none when the job may run.
caf::optional<job_hold> budget_hold(const budget_facts& facts);

} // namespace orchd::economics
