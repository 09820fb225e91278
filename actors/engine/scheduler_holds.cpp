// The scheduler's account holds: a usage limit one run hits holds every
// queued job of its account until the limit resets (issue 15).
#include "actors/engine/scheduler.hpp"

#include "actors/core/log.hpp"
#include "actors/logic/card.hpp"

#include <caf/send.hpp>

#include <chrono>

namespace orchd {

namespace {

// The account an agent's runs are billed to.
std::string account_of(const scheduler_state& st, const std::string& agent) {
  auto it = st.settings.agents.find(agent);
  return it == st.settings.agents.end() ? "default" : it->second.account;
}

} // namespace

std::vector<std::string> held_agents(const scheduler_state& st) {
  std::vector<std::string> out;
  if (st.holds.empty())
    return out;
  for (auto& [name, agent] : st.settings.agents)
    if (st.holds.count(agent.account) > 0)
      out.push_back(name);
  return out;
}

// A run that hit its account's usage limit and names when it resets holds
// every queued job of the account until then: one timer here, instead of
// each job being claimed only to hit the same limit. A later reset extends
// the hold; an earlier one changes nothing.
void hold_account(scheduler_pointer self, const job_row& job,
                  const run_report& report) {
  auto& st = self->state;
  if (!st.settings.account_holds || report.outcome != run_kind::transient ||
      report.retry_after_s <= 0)
    return;
  auto account = account_of(st, job.agent);
  auto delay = std::chrono::seconds(report.retry_after_s);
  auto until = self->clock().now() + delay;
  auto& hold = st.holds[account];
  if (hold.generation != 0 && hold.until >= until)
    return;
  bool extended = hold.generation != 0;
  hold.until = until;
  hold.until_text = card::stamp_of(std::chrono::system_clock::to_time_t(
      std::chrono::system_clock::now() + delay));
  hold.reason = report.error;
  hold.generation = ++st.hold_generation;
  log::warn("orchd.scheduler: account ", account,
            extended ? " held longer" : " held", ": its queued jobs wait ",
            report.retry_after_s, " s, until ", hold.until_text, " UTC (job ",
            job.id, ": ", report.error, ")");
  self->delayed_send(self, delay, atom::unhold_v, account, hold.generation);
}

std::vector<account_hold> account_holds(const scheduler_state& st) {
  std::vector<account_hold> out;
  for (auto& [account, hold] : st.holds) {
    account_hold x{account, hold.until_text, hold.reason, {}};
    for (auto& [name, agent] : st.settings.agents)
      if (agent.account == account)
        x.agents.push_back(name);
    out.push_back(std::move(x));
  }
  return out;
}

} // namespace orchd
