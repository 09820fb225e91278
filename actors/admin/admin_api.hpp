// The admin API actor: the operator's inspection routes and actions. It
// answers typed rows (or the error that says why not); http/ decides how
// they are shown.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"

#include <caf/fwd.hpp>

#include <chrono>

namespace orchd {

/// The actors the operator's routes reach.
struct admin_backends {
  storage_actor storage;
  scheduler_actor scheduler;
  freeze_manager_actor freezes;
  task_creator_actor creator;
  /// Hears of an operator's cancel (may be null).
  tracker_actor tracker;
  /// Answers GET /actors and the mailboxes of /metrics (may be null).
  inspector_actor inspector;
};

struct admin_api_state {
  static inline const char* name = "orchd.admin_api";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  admin_backends to;
  std::chrono::milliseconds timeout{10000};
};

/// The behaviour of the admin API actor.
admin_api_actor::behavior_type
admin_api(admin_api_actor::stateful_pointer<admin_api_state> self,
          admin_backends to, std::chrono::milliseconds timeout);

admin_api_actor spawn_admin_api(caf::actor_system& sys, admin_backends to,
                                std::chrono::milliseconds timeout);

} // namespace orchd
