// The CI events actor: maps GitHub CI deliveries to tasks.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/logic/config.hpp"

#include <caf/actor_system.hpp>

#include <string>
#include <vector>

namespace orchd {

/// Branch names from `git branch -r --contains` output, remote prefix
/// stripped ("  origin/agent/ET-1" -> "agent/ET-1"), symbolic refs skipped.
std::vector<std::string> parse_remote_branches(const std::string& output);

struct ci_events_state {
  static inline const char* name = "orchd.ci_events";
  storage_actor storage;
  std::vector<project_config> projects;
  int64_t resolved = 0;
  int64_t unresolved = 0;
};

/// Spawns the CI events actor on its own thread (it runs git).
ci_events_actor spawn_ci_events(caf::actor_system& sys, storage_actor storage,
                                const config& cfg);

} // namespace orchd
