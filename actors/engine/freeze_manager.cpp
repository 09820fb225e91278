#include "actors/engine/freeze_manager.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"

#include <caf/actor_system.hpp>

#include <nlohmann/json.hpp>

namespace orchd {

namespace {

// Forwards a storage request, answering the caller with its reply.
template <class T, class... Ts>
caf::result<T> forward(freeze_manager_pointer self, Ts&&... xs) {
  auto rp = self->make_response_promise<T>();
  self->request(self->state.storage, self->state.timeout,
                std::forward<Ts>(xs)...)
      .then([rp](T& x) mutable { rp.deliver(std::move(x)); },
            [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

freeze_manager_actor::behavior_type
freeze_manager(freeze_manager_pointer self, storage_actor storage,
               scheduler_actor scheduler, std::chrono::seconds timeout) {
  self->state.storage = std::move(storage);
  self->state.scheduler = std::move(scheduler);
  self->state.timeout = timeout;
  return counted(
      self->state.vitals,
      freeze_manager_actor::behavior_type{
          [self](atom::status) -> caf::result<actor_status> {
            // Its state is the journal: the active freezes, read now.
            auto rp = self->make_response_promise<actor_status>();
            self->request(self->state.storage, self->state.timeout,
                          atom::freezes_v)
                .then(
                    [self, rp](const std::vector<freeze_row>& rows) mutable {
                      auto active = nlohmann::json::array();
                      for (auto& r : rows)
                        active.push_back({{"repo", r.repo},
                                          {"since", r.frozen_at},
                                          {"reason", r.reason},
                                          {"work_item", r.work_item_id}});
                      rp.deliver(status_of(
                          self, self->state.vitals, "freeze_manager",
                          nlohmann::json{{"active", std::move(active)}}
                              .dump()));
                    },
                    [rp](caf::error& err) mutable {
                      rp.deliver(std::move(err));
                    });
            return rp;
          },
          [self](atom::freeze, const std::string& repo,
                 const std::string& reason, const std::string& work_item) {
            log::warn("orchd.freeze_manager: repo ", repo, " frozen: ", reason);
            return forward<int64_t>(self, atom::freeze_v, repo, reason,
                                    work_item);
          },
          [self](atom::unfreeze,
                 const std::string& repo) -> caf::result<int64_t> {
            auto rp = self->make_response_promise<int64_t>();
            self->request(self->state.storage, self->state.timeout,
                          atom::unfreeze_v, repo)
                .then(
                    [self, rp, repo](int64_t cleared) mutable {
                      if (cleared == 0) {
                        rp.deliver(caf::make_error(
                            ec::not_frozen, "repo " + repo + " is not frozen"));
                        return;
                      }
                      log::info("orchd.freeze_manager: repo ", repo,
                                " unfrozen");
                      rp.deliver(cleared);
                      self->send(self->state.scheduler, atom::wake_v);
                    },
                    [rp](caf::error& err) mutable {
                      rp.deliver(std::move(err));
                    });
            return rp;
          },
          [self](atom::freezes) {
            return forward<std::vector<freeze_row>>(self, atom::freezes_v);
          },
      });
}

freeze_manager_actor spawn_freeze_manager(caf::actor_system& sys,
                                          const storage_actor& storage,
                                          const scheduler_actor& scheduler,
                                          std::chrono::seconds timeout) {
  return sys.spawn(freeze_manager, storage, scheduler, timeout);
}

} // namespace orchd
