// The admin API actor: answers the operator's inspection routes with JSON
// built from storage's rows.
#pragma once

#include "actors/actors.hpp"

#include <caf/actor_system.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>

namespace orchd {

nlohmann::json to_json(const task_row& x);
nlohmann::json to_json(const job_row& x);

/// The actors the operator's routes reach.
struct admin_backends {
  storage_actor storage;
  scheduler_actor scheduler;
  freeze_manager_actor freezes;
};

struct admin_api_state {
  static inline const char* name = "orchd.admin_api";
  admin_backends to;
  std::chrono::milliseconds timeout{10000};
};

admin_api_actor spawn_admin_api(caf::actor_system& sys, admin_backends to,
                                std::chrono::milliseconds timeout);

} // namespace orchd
