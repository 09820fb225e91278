// The inspector: the registry of long-lived actors and the one place that
// asks each of them how it is (DESIGN.md §1, GET /actors).
#pragma once

#include "actors/core/actors.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace orchd {

struct inspector_state {
  static inline const char* name = "orchd.inspector";
  struct entry {
    std::string name;
    caf::actor handle;
    /// Set when it quit: why, and when (unix seconds).
    bool down = false;
    std::string reason;
    int64_t down_at = 0;
  };
  /// In the order they registered. A runner (`runner/<job>`) is dropped
  /// when it quits; any other actor stays, shown down.
  std::vector<entry> actors;
  /// How long an actor has to answer before it shows as "timeout".
  std::chrono::milliseconds timeout{1000};
};

using inspector_pointer = inspector_actor::stateful_pointer<inspector_state>;

inspector_actor::behavior_type inspector(inspector_pointer self,
                                         std::chrono::milliseconds timeout);

inspector_actor spawn_inspector(
    caf::actor_system& sys,
    std::chrono::milliseconds timeout = std::chrono::milliseconds{1000});

} // namespace orchd
