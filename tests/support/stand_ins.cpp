#include "tests/support/stand_ins.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace orchd::test {

scheduler_actor stand_in_scheduler(caf::actor_system& sys,
                                   std::shared_ptr<scheduler_log> log) {
  // The log is an argument, not only a capture: CAF 0.17 dereferences a
  // null argument tuple when a function is spawned without any.
  return sys.spawn(
      [](scheduler_actor::pointer,
         std::shared_ptr<scheduler_log> log) -> scheduler_actor::behavior_type {
        return {
            [](atom::status) { return actor_status{"stand-in"}; },
            [log](atom::wake) { ++log->wakes; },
            [](atom::enqueue, const new_job&) { return int64_t{0}; },
            [log](atom::finish, const run_report& r) {
              log->reports.push_back(r);
            },
            [log](atom::owned) { return log->owned; },
            [log](atom::cancel, int64_t id) {
              log->cancelled.push_back(id);
              return true;
            },
            [log](atom::requeue, int64_t id) {
              log->requeued.push_back(id);
              return true;
            },
            [](atom::drain, int64_t) { return int64_t{0}; },
            [](atom::kill) {},
            [log](atom::stop_jobs, const std::vector<int64_t>& ids) {
              log->stopped.insert(log->stopped.end(), ids.begin(), ids.end());
            },
            [](atom::due, int64_t) {},
            [](atom::budget, const budget_change&) { return int64_t{0}; },
            [](atom::holds) { return std::vector<account_hold>{}; },
            [](atom::unhold, const std::string&, int64_t) {},
        };
      },
      std::move(log));
}

} // namespace orchd::test
