// The freeze manager actor: the only writer of the repo freeze journal.
#pragma once

#include "actors/actors.hpp"

#include <caf/fwd.hpp>

#include <chrono>

namespace orchd {

/// Unfreezing wakes `scheduler`, so the frozen repo's waiting analyst is
/// claimed at once.
freeze_manager_actor spawn_freeze_manager(caf::actor_system& sys,
                                          const storage_actor& storage,
                                          const scheduler_actor& scheduler,
                                          std::chrono::seconds timeout);

} // namespace orchd
