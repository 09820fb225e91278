// The freeze manager actor: the only writer of the repo freeze journal.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>

namespace orchd {

struct freeze_manager_state {
  static inline const char* name = "orchd.freeze_manager";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  scheduler_actor scheduler;
  std::chrono::seconds timeout{60};
};

using freeze_manager_pointer =
    freeze_manager_actor::stateful_pointer<freeze_manager_state>;

/// The freeze manager's behaviour.
freeze_manager_actor::behavior_type
freeze_manager(freeze_manager_pointer self, storage_actor storage,
               scheduler_actor scheduler, std::chrono::seconds timeout);

/// Unfreezing wakes `scheduler`, so the frozen repo's waiting analyst is
/// claimed at once.
freeze_manager_actor spawn_freeze_manager(caf::actor_system& sys,
                                          const storage_actor& storage,
                                          const scheduler_actor& scheduler,
                                          std::chrono::seconds timeout);

} // namespace orchd
