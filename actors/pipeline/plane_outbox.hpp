// The Plane outbox actor: sends the Plane calls pipeline transitions
// queued in the database (DESIGN.md §1, the pipeline's Plane writes).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/outbound.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/config.hpp"
#include "actors/logic/plane_api.hpp"

#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace orchd {

struct plane_outbox_settings {
  plane::endpoint endpoint;
  std::vector<project_config> projects;
  plane_states states;
  int64_t requests_per_minute = 60;
  int64_t retry_base_s = 5;
  int64_t retry_cap_s = 600;
  std::chrono::seconds storage_timeout{60};
};

/// The outbox settings of a configuration (the API key from its secrets).
plane_outbox_settings plane_outbox_settings_of(const config& cfg);

struct plane_outbox_state {
  static inline const char* name = "orchd.plane_outbox";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  plane_outbox_settings settings;
  outbound_send send;
  /// Per Plane project: state names (lower case) to ids, fetched once and
  /// again on a miss.
  std::map<std::string, std::map<std::string, std::string>> state_ids;
  /// A call is out (one at a time: the key's rate is the limit).
  bool busy = false;
  bool again = false;
  int64_t due_generation = 0;
  /// The earliest the next request may leave (the key's rate), on the
  /// actor clock.
  caf::actor_clock::time_point next_slot;
  bool warned = false;
  int64_t sent = 0;
  int64_t retried = 0;
  int64_t given_up = 0;
};

using plane_outbox_pointer =
    plane_outbox_actor::stateful_pointer<plane_outbox_state>;

/// The outbox's behaviour; it sends what is due at once.
plane_outbox_actor::behavior_type plane_outbox(plane_outbox_pointer self,
                                               storage_actor storage,
                                               plane_outbox_settings settings,
                                               outbound_send send);

/// Spawns the outbox on its own thread (its HTTP calls block).
plane_outbox_actor spawn_plane_outbox(caf::actor_system& sys,
                                      storage_actor storage,
                                      plane_outbox_settings settings,
                                      outbound_send send);

} // namespace orchd
