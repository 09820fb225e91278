// The scheduler's answer to the inspector: its slots, the queue's counts
// (read from storage now) and its account holds.
#include "actors/engine/scheduler.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace orchd {

namespace {

std::string status_summary(const scheduler_state& st, const job_counts& counts,
                           caf::optional<int64_t> next_due_ms) {
  auto used = static_cast<int64_t>(st.running.size());
  auto running = nlohmann::json::array();
  for (auto& [id, slot] : st.running)
    running.push_back({{"job", id},
                       {"task", slot.job.task_id.value_or(0)},
                       {"agent", slot.job.agent},
                       {"started_at", slot.job.started_at}});
  auto holds = nlohmann::json::array();
  for (auto& h : account_holds(st))
    holds.push_back(
        {{"account", h.account}, {"until", h.until}, {"reason", h.reason}});
  return nlohmann::json{
      {"slots_used", used},
      {"slots_free", std::max<int64_t>(0, st.settings.max_concurrency - used)},
      {"queued", counts.queued},
      {"held", counts.held},
      {"next_due_ms",
       next_due_ms ? nlohmann::json(*next_due_ms) : nlohmann::json(nullptr)},
      {"claims_out", st.claiming},
      {"claimed", st.claimed},
      {"finalising", st.finalising},
      {"draining", st.draining},
      {"account_holds", std::move(holds)},
      {"running", std::move(running)}}
      .dump();
}

} // namespace

caf::result<actor_status> answer_status(scheduler_pointer self) {
  // Slots are its own; queued and held jobs are the queue's, read now.
  auto rp = self->make_response_promise<actor_status>();
  auto timeout = self->state.settings.storage_timeout;
  auto fail = [rp](caf::error& err) mutable {
    rp.deliver(std::move(err));
  };
  self->request(self->state.storage, timeout, atom::job_counts_v)
      .then(
          [self, rp, timeout, fail](const job_counts& counts) mutable {
            self->request(self->state.storage, timeout, atom::next_due_v)
                .then(
                    [self, rp, counts](caf::optional<int64_t> due) mutable {
                      rp.deliver(
                          status_of(self, self->state.vitals, "scheduler",
                                    status_summary(self->state, counts, due)));
                    },
                    fail);
          },
          fail);
  return rp;
}

} // namespace orchd
