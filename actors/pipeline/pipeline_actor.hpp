// The pipeline actor: turns domain events into stage transitions
// (DESIGN.md §1). actors/logic/pipeline.hpp decides; this actor gathers
// what it decides from (the task, its pipeline columns, the BRD file, the
// branch head) and has storage apply the result in one write.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/outbound.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"
#include "actors/logic/pipeline.hpp"
#include "actors/logic/plane_api.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace orchd {

struct pipeline_settings {
  std::vector<project_config> projects;
  std::string workspace_root;
  pipeline::limits limits;
  std::string brd_file = "brd.md";
  plane_states states;
  /// The agents' attempts, for the jobs transitions enqueue.
  std::map<std::string, int64_t> max_attempts;
  std::chrono::seconds storage_timeout{60};
  /// Plane's API, for the reviewer's comment on a rework (no slug or key,
  /// or no sender: the analyst runs again without it).
  plane::endpoint plane;
  outbound_send send;
  /// Hears of every transition (may be null).
  tracker_actor tracker;
};

/// The pipeline settings of a configuration.
pipeline_settings pipeline_settings_of(const config& cfg);

struct pipeline_state {
  static inline const char* name = "orchd.pipeline";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  scheduler_actor scheduler;
  plane_outbox_actor plane;
  pipeline_settings settings;
  int64_t transitions = 0;
  int64_t stale = 0;
};

using pipeline_pointer = pipeline_actor::stateful_pointer<pipeline_state>;

/// The pipeline actor's behaviour. `plane` (may be null) hears of queued
/// calls.
pipeline_actor::behavior_type stage_keeper(pipeline_pointer self,
                                           storage_actor storage,
                                           plane_outbox_actor plane,
                                           pipeline_settings settings);

/// Spawns the pipeline on its own thread (it reads the worktree with git).
pipeline_actor spawn_pipeline(caf::actor_system& sys, storage_actor storage,
                              plane_outbox_actor plane,
                              pipeline_settings settings);

} // namespace orchd
