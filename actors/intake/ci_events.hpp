// The CI events actor: maps GitHub CI deliveries to tasks.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <string>
#include <vector>

namespace orchd {

/// Branch names from `git branch -r --contains` output, remote prefix
/// stripped ("  origin/agent/ET-1" -> "agent/ET-1"), symbolic refs skipped.
std::vector<std::string> parse_remote_branches(const std::string& output);

struct ci_events_state {
  static inline const char* name = "orchd.ci_events";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  /// Hears of every result mapped to a task (none in tests without one).
  pipeline_actor pipeline;
  std::vector<project_config> projects;
  int64_t resolved = 0;
  int64_t unresolved = 0;
};

using ci_events_pointer = ci_events_actor::stateful_pointer<ci_events_state>;

/// The CI events actor's behaviour.
ci_events_actor::behavior_type ci_events(ci_events_pointer self,
                                         storage_actor storage, config cfg,
                                         pipeline_actor pipeline);

/// Spawns the CI events actor on its own thread (it runs git).
ci_events_actor spawn_ci_events(caf::actor_system& sys, storage_actor storage,
                                const config& cfg,
                                pipeline_actor pipeline = {});

} // namespace orchd
