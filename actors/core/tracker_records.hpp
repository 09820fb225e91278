// The tracker's records: what a task's Telegram card is rendered from, with
// the ledger's view of its cards. Included by records.hpp.
#pragma once

#include "actors/core/records.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orchd {

/// A task's card as storage knows it: the task's state (its current card
/// is `detail.task.tracker_message_id`), what it waits for, and the cards
/// the ledger holds for it.
struct card_facts {
  task_detail detail;
  /// The running job's agent and start ("" when none runs).
  std::string running_agent = {};
  std::string running_since = {};
  /// A queued job of the task held back until then ("" when none is).
  std::string deferred_until = {};
  /// Work items this task waits for (its unfinished dependencies).
  std::vector<std::string> blocked_by;
  /// The repo's active freeze ("" when the task is not held by one).
  std::string frozen = {};
  /// Every card of the task the ledger holds open, oldest first.
  std::vector<int64_t> open;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, card_facts& x) {
  return f(caf::meta::type_name("orchd::card_facts"), x.detail, x.running_agent,
           x.running_since, x.deferred_until, x.blocked_by, x.frozen, x.open);
}

/// A task whose card may be stale or doubled (the tracker's sweep).
struct card_due {
  int64_t task_id = 0;
  /// Its card goes to the bottom of the chat (a finished task whose last
  /// card predates its finish).
  bool bump = false;
  /// Its card may be stale (every unfinished task after a restart); with
  /// neither flag only its extra open cards are to be deleted.
  bool edit = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, card_due& x) {
  return f(caf::meta::type_name("orchd::card_due"), x.task_id, x.bump, x.edit);
}

} // namespace orchd
