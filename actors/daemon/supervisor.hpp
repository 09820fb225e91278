// The supervisor actor: the daemon's watch over its long-lived actors.
#pragma once

#include "actors/core/actors.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace orchd {

/// Called once, on the supervisor's thread, with the dead actor's name and
/// the reason it went down.
using fatal_handler =
    std::function<void(const std::string& name, const std::string& reason)>;

struct supervisor_state {
  static inline const char* name = "orchd.supervisor";
  /// The watched actors by address, with their names.
  std::map<caf::actor_addr, std::string> watched;
  fatal_handler on_fatal;
  bool stopping = false;
  bool fired = false;
};

using supervisor_pointer = supervisor_actor::stateful_pointer<supervisor_state>;

/// The supervisor's behaviour: monitors each of `actors`.
supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           std::vector<caf::actor> actors,
                                           fatal_handler on_fatal);

supervisor_actor spawn_supervisor(caf::actor_system& sys,
                                  std::vector<caf::actor> actors,
                                  fatal_handler on_fatal);

} // namespace orchd
