// Writing a finalise plan: the one guarded request, whatever the plan's
// kind, shared by the scheduler, the reaper and restart recovery.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/logic/agent_result.hpp"

#include <variant>

namespace orchd {

/// The storage operation of each kind of guarded write.
inline atom::finalise storage_operation(const job_mark&) {
  return atom::finalise_v;
}
inline atom::backoff storage_operation(const transient_requeue&) {
  return atom::backoff_v;
}
inline atom::interrupt storage_operation(const interruption&) {
  return atom::interrupt_v;
}

/// Sends the plan's write to `storage`; `done(won)` or `failed(err)` runs
/// with the answer (`self` is an event-based actor).
template <class Self, class Timeout, class Done, class Failed>
void request_finalise(Self* self, const storage_actor& storage, Timeout timeout,
                      const finalise_plan& plan, Done done, Failed failed) {
  std::visit(
      [&](const auto& write) {
        self->request(storage, timeout, storage_operation(write), write)
            .then(done, failed);
      },
      plan.write);
}

/// The same from a blocking caller (start-up): answers whether it won.
template <class Timeout>
caf::expected<bool> finalise_now(caf::scoped_actor& self,
                                 const storage_actor& storage, Timeout timeout,
                                 const finalise_plan& plan) {
  caf::expected<bool> result{false};
  std::visit(
      [&](const auto& write) {
        self->request(storage, timeout, storage_operation(write), write)
            .receive([&](bool won) { result = won; },
                     [&](caf::error& err) { result = std::move(err); });
      },
      plan.write);
  return result;
}

} // namespace orchd
