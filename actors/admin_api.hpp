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

struct admin_api_state {
  static inline const char* name = "orchd.admin_api";
  storage_actor storage;
  std::chrono::milliseconds timeout{10000};
};

admin_api_actor spawn_admin_api(caf::actor_system& sys, storage_actor storage,
                                std::chrono::milliseconds timeout);

} // namespace orchd
