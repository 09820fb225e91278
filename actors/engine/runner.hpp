// The runner actor: one agent process of one claimed job (DESIGN.md §5).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace orchd {

class child_watcher;

/// What every runner of a daemon shares.
struct runner_settings {
  /// Absolute; runs write <output_dir>/<run>.log and <run>.task.
  std::string output_dir;
  int64_t output_cap_bytes = 64 * 1024 * 1024;
  std::chrono::seconds kill_grace{10};
  /// Worktrees live under it; a job without a task runs in it.
  std::string workspace_root;
  /// Names this daemon's agents (ORCHD_INSTANCE) so a later daemon over
  /// the same database finds the ones left behind.
  std::string instance;
  /// The agents' base environment (the daemon's, secrets removed).
  std::vector<std::string> env;
  std::chrono::seconds storage_timeout{60};
  /// Each runner registers there as `runner/<job>` while it lives.
  inspector_actor inspector;
  /// Prices by model: a run's cost when its agent reports none.
  std::map<std::string, model_price> prices = {};
};

/// The agent command with its placeholders replaced: {task_file},
/// {model}, {effort}, {worktree}, {job_id}, {attempt}.
std::vector<std::string>
expand_args(const std::vector<std::string>& args,
            const std::vector<std::pair<std::string, std::string>>& values);

struct runner_state {
  static inline const char* name = "orchd.runner";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  runner_state() = default;
  runner_state(const runner_state&) = delete;
  runner_state& operator=(const runner_state&) = delete;
  /// Kills the agent's process group if it still runs.
  ~runner_state();
  storage_actor storage;
  scheduler_actor scheduler;
  std::shared_ptr<child_watcher> watcher;
  std::shared_ptr<const runner_settings> settings;
  job_row job;
  agent_config agent;
  task_row task;
  std::string cwd;
  int64_t run_id = 0;
  int64_t pid = 0;
  bool exited = false;
  bool reported = false;
  /// Why the agent is being stopped (timeout, cancelled, shutdown; the
  /// first reason wins); none while it is not.
  caf::optional<run_kind> kill_reason;
  /// When the runner started (its elapsed time in the inspector).
  std::chrono::steady_clock::time_point born = std::chrono::steady_clock::now();
};

using runner_pointer = runner_actor::stateful_pointer<runner_state>;

/// The runner's behaviour: starts the run at once, reports once, quits.
runner_actor::behavior_type
runner(runner_pointer self, storage_actor storage, scheduler_actor scheduler,
       std::shared_ptr<child_watcher> watcher,
       std::shared_ptr<const runner_settings> settings, job_row job,
       agent_config agent);

/// Spawns the runner of a claimed job; it reports to `scheduler` once.
runner_actor spawn_runner(caf::actor_system& sys, const storage_actor& storage,
                          const scheduler_actor& scheduler,
                          std::shared_ptr<child_watcher> watcher,
                          std::shared_ptr<const runner_settings> settings,
                          job_row job, agent_config agent);

} // namespace orchd
