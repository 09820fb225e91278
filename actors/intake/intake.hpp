// The intake actor: verifies, de-duplicates and records each webhook, and
// answers HTTP only after the event row is durable.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/webhook_payload.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace orchd {

/// What intake needs to judge a delivery.
struct intake_settings {
  std::string plane_secret;
  std::string github_secret;
  bool allow_unsigned_plane = false;
  bool allow_unsigned_github = false;
  std::string plane_bot_user_id;
  size_t max_json_depth = default_json_depth;
  /// How long to wait for storage before answering 503.
  std::chrono::milliseconds storage_timeout{10000};
  /// How often unhandled events are swept, and how old (recorded this
  /// long ago) an unhandled event must be to be routed again.
  std::chrono::seconds sweep_interval{60};
  int64_t sweep_grace_s = 120;
};

/// The verdict on one delivery before anything is written: a refusal
/// (ec::bad_signature, ec::malformed_payload), or an event to record.
struct intake_decision {
  caf::error refusal;
  event_record record;
  /// A CI result that names its branches, mapped in the recording write.
  ci_mapping ci;
  /// false: recorded but not acted on (answered 202), with the reason.
  bool acted_on = true;
  std::string ignored_because;
};

/// Checks a delivery: signature on the raw bytes first, then the JSON
/// (depth-limited) and its required fields. Pure; writes nothing.
intake_decision check_delivery(const webhook_delivery& d,
                               const intake_settings& settings);

struct intake_state {
  static inline const char* name = "orchd.intake";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  /// Receives each new Plane work-item event once it is durable.
  task_creator_actor task_creator;
  /// Receives each new GitHub CI event once it is durable.
  ci_events_actor ci_events;
  intake_settings settings;
  /// Counters since start, for the inspector.
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t refused = 0;
  /// Events routed again by a sweep.
  int64_t swept = 0;
  /// Deliveries by "source answer" (new, duplicate, ignored, rejected).
  std::map<std::string, int64_t> deliveries;
};

using intake_pointer = intake_actor::stateful_pointer<intake_state>;

/// The intake actor's behaviour.
intake_actor::behavior_type intake(intake_pointer self, storage_actor storage,
                                   task_creator_actor task_creator,
                                   ci_events_actor ci_events,
                                   intake_settings settings);

/// Spawns the intake actor in front of `storage`.
intake_actor spawn_intake(caf::actor_system& sys, storage_actor storage,
                          task_creator_actor task_creator,
                          ci_events_actor ci_events, intake_settings settings);

} // namespace orchd
