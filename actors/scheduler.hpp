// The scheduler actor: the claim loop, the concurrency slots, and the
// finalising of every run (DESIGN.md §1).
#pragma once

#include "actors/actors.hpp"
#include "actors/agent_result.hpp"
#include "actors/config.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace orchd {

class child_watcher;
struct runner_settings;

/// Starts the runner of a claimed job (the daemon's spawns a real agent
/// process; tests pass their own).
using runner_factory =
    std::function<runner_actor(const scheduler_actor& self, const job_row& job,
                               const agent_config& agent)>;

struct scheduler_settings {
  int64_t max_concurrency = 4;
  /// Per-repo caps (repo -> max running); absent or 0: only the global one.
  std::map<std::string, int64_t> repo_caps;
  bool dependency_gate = true;
  backoff_settings backoff;
  std::map<std::string, agent_config> agents;
  std::chrono::seconds storage_timeout{60};
  /// Retry of a claim that failed in storage.
  std::chrono::milliseconds claim_retry{1000};
};

/// The factory the daemon uses: real agent processes through `watcher`.
runner_factory process_runners(caf::actor_system& sys,
                               const storage_actor& storage,
                               std::shared_ptr<child_watcher> watcher,
                               std::shared_ptr<const runner_settings> settings);

/// Spawns the scheduler; it claims at once (call it after restart recovery).
scheduler_actor spawn_scheduler(caf::actor_system& sys,
                                const storage_actor& storage,
                                scheduler_settings settings,
                                runner_factory runners);

} // namespace orchd
