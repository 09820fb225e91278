// Tiny stand-in actors for the collaborators an actor under test talks to:
// each records what it was sent, so a test checks what a user would see.
#pragma once

#include "actors/core/actors.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace orchd::test {

/// What a stand-in scheduler was told.
struct scheduler_log {
  int64_t wakes = 0;
  std::vector<int64_t> cancelled;
  std::vector<int64_t> requeued;
  /// Jobs whose agents it was told to stop (a cancelled task).
  std::vector<int64_t> stopped;
  std::vector<run_report> reports;
  /// Answered to `owned`: the jobs its runners own.
  std::vector<int64_t> owned;
};

/// A scheduler that runs nothing: it records wakes, cancels, requeues and
/// runner reports, and answers `owned` from the log.
scheduler_actor stand_in_scheduler(caf::actor_system& sys,
                                   std::shared_ptr<scheduler_log> log);

} // namespace orchd::test
