// The reconciler: a periodic look for what no event will move any more
// (DESIGN.md §1): tasks idle past their stage's grace, and work items in a
// trigger state whose webhook never arrived.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/outbound.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"
#include "actors/logic/plane_api.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace orchd {

struct reconciler_settings {
  std::chrono::seconds interval{60};
  /// By stage name, or by wait ("human_review", "ci"); a key absent: never.
  std::map<std::string, int64_t> grace_s;
  int64_t max_retries = 2;
  std::vector<project_config> projects;
  /// Plane's API, to list work items (no slug or key: not listed).
  plane::endpoint plane;
  outbound_send send;
  std::chrono::seconds storage_timeout{60};
};

reconciler_settings reconciler_settings_of(const config& cfg);

struct reconciler_state {
  static inline const char* name = "orchd.reconciler";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  pipeline_actor pipeline;
  task_creator_actor creator;
  reconciler_settings settings;
  int64_t sweeps = 0;
  int64_t tasks_handed = 0;
  int64_t items_recovered = 0;
};

using reconciler_pointer = reconciler_actor::stateful_pointer<reconciler_state>;

reconciler_actor::behavior_type reconciler(reconciler_pointer self,
                                           storage_actor storage,
                                           pipeline_actor pipeline,
                                           task_creator_actor creator,
                                           reconciler_settings settings);

/// Spawns the reconciler on its own thread (its Plane calls block); its
/// first sweep runs at once.
reconciler_actor spawn_reconciler(caf::actor_system& sys, storage_actor storage,
                                  pipeline_actor pipeline,
                                  task_creator_actor creator,
                                  reconciler_settings settings);

} // namespace orchd
