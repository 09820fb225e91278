// The retention actor: what orchd keeps, and for how long (see
// actors/core/actors.hpp, RETENTION).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>

namespace orchd {

struct retention_settings {
  std::chrono::seconds interval{3600};
  /// 0 for any of these keeps that kind for ever.
  int64_t event_payload_days = 30;
  int64_t run_log_days = 30;
  int64_t worktree_days = 14;
  /// Where run logs and task files are (the runner's output_dir).
  std::string output_dir;
  std::string workspace_root;
  /// The local clone of each configured repo (git removes its worktrees).
  std::map<std::string, std::string> clones;
  std::chrono::seconds storage_timeout{60};
};

struct retention_state {
  static inline const char* name = "orchd.retention";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  retention_settings settings;
};

using retention_pointer = retention_actor::stateful_pointer<retention_state>;

retention_actor::behavior_type retention(retention_pointer self,
                                         storage_actor storage,
                                         retention_settings settings);

/// Spawned detached: it runs git and walks folders.
retention_actor spawn_retention(caf::actor_system& sys,
                                const storage_actor& storage,
                                retention_settings settings);

} // namespace orchd
