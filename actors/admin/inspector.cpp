#include "actors/admin/inspector.hpp"

#include "actors/core/error.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <ctime>
#include <memory>

namespace orchd {

namespace {

bool is_runner(const std::string& name) {
  return name.rfind("runner/", 0) == 0;
}

actor_status down_status(const inspector_state::entry& e) {
  actor_status x;
  x.name = e.name;
  x.health = "down";
  x.last_error_at = e.down_at;
  x.last_error = e.reason;
  return x;
}

// Asks one actor; `done` gets its status, or "timeout" (no answer in
// time) or "error" (it answered an error) with what went wrong.
template <class F>
void ask(inspector_pointer self, const inspector_state::entry& e, F done) {
  if (e.down)
    return done(down_status(e));
  auto name = e.name;
  self->request(e.handle, self->state.timeout, atom::status_v)
      .then([done](actor_status& x) mutable { done(std::move(x)); },
            [done, name](caf::error& err) mutable {
              actor_status x;
              x.name = name;
              bool late = err == caf::sec::request_timeout;
              x.health = late ? "timeout" : "error";
              x.last_error_at = static_cast<int64_t>(std::time(nullptr));
              x.last_error = late ? "no answer in time"
                                  : "its status failed: " + describe(err);
              done(std::move(x));
            });
}

} // namespace

inspector_actor::behavior_type inspector(inspector_pointer self,
                                         std::chrono::milliseconds timeout) {
  self->state.timeout = timeout;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& all = self->state.actors;
    for (auto i = all.begin(); i != all.end(); ++i) {
      if (i->handle.address() != msg.source)
        continue;
      if (is_runner(i->name)) {
        all.erase(i);
        return;
      }
      i->down = true;
      i->reason = msg.reason ? describe(msg.reason) : "quit normally";
      i->down_at = static_cast<int64_t>(std::time(nullptr));
      return;
    }
  });
  return {
      [self](atom::enroll, std::string& name, caf::actor& handle) {
        self->monitor(handle);
        for (auto& e : self->state.actors)
          if (e.name == name) {
            e = inspector_state::entry{std::move(name), std::move(handle)};
            return;
          }
        self->state.actors.push_back(
            inspector_state::entry{std::move(name), std::move(handle)});
      },
      [self](atom::status) -> caf::result<std::vector<actor_status>> {
        auto rp = self->make_response_promise<std::vector<actor_status>>();
        auto n = self->state.actors.size();
        if (n == 0) {
          rp.deliver(std::vector<actor_status>{});
          return rp;
        }
        auto all = std::make_shared<std::vector<actor_status>>(n);
        auto pending = std::make_shared<size_t>(n);
        for (size_t i = 0; i < n; ++i)
          ask(self, self->state.actors[i],
              [all, pending, rp, i](actor_status x) mutable {
                (*all)[i] = std::move(x);
                if (--*pending == 0)
                  rp.deliver(std::move(*all));
              });
        return rp;
      },
      [self](atom::status,
             const std::string& name) -> caf::result<actor_status> {
        for (auto& e : self->state.actors)
          if (e.name == name) {
            auto rp = self->make_response_promise<actor_status>();
            ask(self, e, [rp](actor_status x) mutable { rp.deliver(x); });
            return rp;
          }
        return caf::make_error(ec::no_such_actor,
                               "no actor named " + name +
                                   " (GET /actors lists them)");
      },
  };
}

inspector_actor spawn_inspector(caf::actor_system& sys,
                                std::chrono::milliseconds timeout) {
  return sys.spawn(inspector, timeout);
}

} // namespace orchd
