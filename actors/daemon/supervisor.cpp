#include "actors/daemon/supervisor.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

namespace orchd {

supervisor_actor::behavior_type supervisor(supervisor_pointer self,
                                           std::vector<caf::actor> actors,
                                           fatal_handler on_fatal) {
  auto& st = self->state;
  st.on_fatal = std::move(on_fatal);
  for (auto& a : actors) {
    if (!a)
      continue;
    auto ptr = caf::actor_cast<caf::strong_actor_ptr>(a);
    auto* local = dynamic_cast<caf::local_actor*>(ptr->get());
    st.watched.emplace(a.address(), local ? local->name() : "an actor");
    self->monitor(a);
  }
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& st = self->state;
    auto it = st.watched.find(msg.source);
    if (it == st.watched.end())
      return;
    auto name = it->second;
    st.watched.erase(it);
    if (st.stopping || st.fired)
      return;
    st.fired = true;
    auto reason = msg.reason ? describe(msg.reason) : std::string{"quit"};
    log::error("orchd.supervisor: ", name, " went down unexpectedly: ", reason,
               "; stopping the daemon");
    if (st.on_fatal)
      st.on_fatal(name, reason);
  });
  return {
      [self](atom::shutdown) { self->state.stopping = true; },
  };
}

supervisor_actor spawn_supervisor(caf::actor_system& sys,
                                  std::vector<caf::actor> actors,
                                  fatal_handler on_fatal) {
  return sys.spawn(supervisor, std::move(actors), std::move(on_fatal));
}

} // namespace orchd
