// The tracker actor: one live Telegram card per task (DESIGN.md §1), and
// the only writer of the card ledger (`tracker_messages`, the task's
// current card).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/outbound.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/card_queue.hpp"
#include "actors/logic/config.hpp"
#include "actors/logic/telegram_api.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <string>

namespace orchd {

struct tracker_settings {
  telegram::endpoint endpoint;
  /// Chat of each repo's cards (projects without one have no cards).
  std::map<std::string, std::string> chats;
  /// The work item's page per repo: url template, workspace, project.
  std::string work_item_url;
  std::string workspace_slug;
  std::map<std::string, std::string> plane_projects;
  card_queue::limits limits;
  std::chrono::seconds sweep{60};
  /// The longest wait between tries while a chat's calls fail.
  int64_t retry_cap_s = 60;
  std::chrono::seconds storage_timeout{60};
};

/// The tracker settings of a configuration (the token from its secrets).
tracker_settings tracker_settings_of(const config& cfg);

/// Whether the settings allow a tracker (a token and a chat), and if not,
/// why (logged once at start-up).
std::string tracker_disabled_because(const tracker_settings& s);

struct tracker_state {
  static inline const char* name = "orchd.tracker";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  tracker_settings settings;
  outbound_send send;
  card_queue queue{card_queue::limits{}};
  /// A task's chat, once read ("" : its project has none).
  std::map<int64_t, std::string> chat_of_task;
  /// Failed calls in a row per chat (the outage backoff).
  std::map<std::string, int64_t> failures;
  bool enabled = false;
  bool busy = false;
  bool again = false;
  int64_t due_generation = 0;
  int64_t sent = 0;
  int64_t edited = 0;
  int64_t deleted = 0;
  int64_t failed = 0;
};

using tracker_pointer = tracker_actor::stateful_pointer<tracker_state>;

/// The tracker's behaviour: at start every unfinished task's card is
/// brought up to date (and doubled cards deleted), then every change.
tracker_actor::behavior_type card_keeper(tracker_pointer self,
                                         storage_actor storage,
                                         tracker_settings settings,
                                         outbound_send send);

/// Spawns the tracker on its own thread (its HTTP calls block).
tracker_actor spawn_tracker(caf::actor_system& sys, storage_actor storage,
                            tracker_settings settings, outbound_send send);

} // namespace orchd
