// The task creator: one task per Plane work item, with its worktree.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace orchd {

struct plane_event;

/// Whether a work item is in the project's trigger (state name or group,
/// and label), so that it enters the pipeline.
bool trigger_matches(const project_config& project, const plane_event& ev);

/// The storage request that creates the work item's task and first job.
work_item_request make_work_item_request(const project_config& project,
                                         const plane_event& ev,
                                         int64_t first_max_attempts);

struct task_creator_state {
  static inline const char* name = "orchd.task_creator";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  /// Woken when a task's worktree is ready (none in tests without one).
  scheduler_actor scheduler;
  /// Hears of worktrees made and of work items that moved (none in tests
  /// without one).
  pipeline_actor pipeline;
  std::vector<project_config> projects;
  std::string workspace_root;
  /// Each agent's max_attempts, for the first job of a task.
  std::map<std::string, int64_t> max_attempts;
  int64_t created = 0;
  int64_t setup_failures = 0;
  /// Failed setups tried again so far, by task (tries are bounded by
  /// `setup_retries`, spaced by `setup_backoff`, doubling).
  std::map<int64_t, int64_t> setup_tries;
  int64_t setup_retries = 5;
  std::chrono::seconds setup_backoff{30};

  int64_t max_attempts_of(const std::string& agent) const {
    auto i = max_attempts.find(agent);
    return i == max_attempts.end() ? 2 : i->second;
  }
};

using task_creator_pointer =
    task_creator_actor::stateful_pointer<task_creator_state>;

/// The task creator's behaviour; `scheduler` is woken when a worktree is
/// made (none in tests without one).
task_creator_actor::behavior_type
task_creator(task_creator_pointer self, storage_actor storage, config cfg,
             scheduler_actor scheduler, pipeline_actor pipeline);

/// Spawns the task creator on its own thread: it runs git, which blocks,
/// and it handles one event at a time by design.
task_creator_actor spawn_task_creator(caf::actor_system& sys,
                                      storage_actor storage, const config& cfg,
                                      scheduler_actor scheduler = {},
                                      pipeline_actor pipeline = {});

} // namespace orchd
