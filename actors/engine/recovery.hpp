// Restart recovery: what a previous daemon left running is stopped and put
// back in the queue before this daemon claims anything.
#pragma once

#include "actors/core/actors.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <string>

namespace orchd {

/// For every job left `running`: kills what is left of its agents' process
/// groups (found by ORCHD_INSTANCE and ORCHD_JOB_ID, so no unrelated
/// process that reused a pid is touched) and waits until they are gone,
/// records its run as ended by the restart, and requeues it with an error
/// saying so (the attempt counts). Blocks: call it before the scheduler
/// starts. Answers how many jobs were requeued, or the storage error.
caf::expected<int64_t> recover_running_jobs(caf::actor_system& sys,
                                            const storage_actor& storage,
                                            const std::string& instance,
                                            std::chrono::seconds timeout);

} // namespace orchd
