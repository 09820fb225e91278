#include "actors/pipeline/reconciler.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/intake/task_creator.hpp"
#include "actors/logic/pipeline.hpp"
#include "actors/logic/webhook_payload.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>

namespace orchd {

reconciler_settings reconciler_settings_of(const config& cfg) {
  reconciler_settings x;
  x.interval = std::chrono::seconds(cfg.reconciler.interval_s);
  x.grace_s = cfg.reconciler.stage_grace_s;
  x.max_retries = cfg.reconciler.max_retries;
  x.projects = cfg.projects;
  if (cfg.reconciler.list_work_items) {
    x.plane = plane::endpoint_of(cfg);
  }
  return x;
}

namespace {

// Pages of a project's listing, at most this many (10,000 work items).
constexpr int max_pages = 100;
constexpr int64_t per_page = 100;

// Counts what one sweep handed on and answers when every part is done.
struct sweep_count {
  int64_t handed = 0;
  int pending = 0;
  std::function<void(int64_t)> done;

  void finish_one() {
    if (--pending == 0 && done)
      done(handed);
  }
};

using count_ptr = std::shared_ptr<sweep_count>;

// Tasks idle past their grace go to the pipeline.
void sweep_tasks(reconciler_pointer self, count_ptr count) {
  auto& st = self->state;
  self->request(st.storage, st.settings.storage_timeout, atom::idle_v)
      .then(
          [self, count](std::vector<idle_task>& tasks) {
            auto& st = self->state;
            for (auto& t : tasks) {
              if (t.stuck)
                continue;
              auto key = pipeline::grace_key(t.task.stage, t.waiting);
              auto grace = st.settings.grace_s.find(key);
              if (grace == st.settings.grace_s.end() || t.age_s < grace->second)
                continue;
              log::info("orchd.reconciler: task ", t.task.id, " ",
                        t.task.work_item_id, " has had no job in ", key,
                        " for ", t.age_s, " s (grace ", grace->second, " s)");
              ++count->handed;
              ++st.tasks_handed;
              self->send(st.pipeline, atom::idle_v, t, st.settings.max_retries);
            }
            count->finish_one();
          },
          [count](const caf::error& err) {
            log::warn("orchd.reconciler: cannot read idle tasks: ",
                      describe(err));
            count->finish_one();
          });
}

// A listed work item in the project's trigger with no task: recorded as a
// Plane event (a later webhook of the same change is its duplicate) and
// sent through the task creator, the one path that makes tasks.
void recover_item(reconciler_pointer self, const project_config& project,
                  std::string payload, count_ptr count) {
  auto ev = parse_plane_event(payload);
  if (!ev || !trigger_matches(project, *ev))
    return;
  auto& st = self->state;
  ++count->pending;
  auto plane_id = ev->work_item_id;
  auto key = "reconciler:" + ev->dedup_key();
  self->request(st.storage, st.settings.storage_timeout, atom::by_plane_v,
                plane_id)
      .then([count](task_row&) { count->finish_one(); },
            [self, count, payload, key, plane_id](const caf::error& err) {
              if (err != ec::no_such_task) {
                count->finish_one();
                return;
              }
              auto& st = self->state;
              event_record record{"plane", "issue", payload, key, false};
              self->request(st.storage, st.settings.storage_timeout,
                            atom::record_v, record, ci_mapping{})
                  .then(
                      [self, count, payload, plane_id](const event_ack& ack) {
                        if (ack.created) {
                          log::warn("orchd.reconciler: work item ", plane_id,
                                    " is in a trigger state with no task (its "
                                    "webhook was lost); event ",
                                    ack.id, " sent to the task creator");
                          ++count->handed;
                          ++self->state.items_recovered;
                          self->send(self->state.creator, atom::handle_v,
                                     ack.id, payload);
                        }
                        count->finish_one();
                      },
                      [count](const caf::error& err) {
                        log::warn("orchd.reconciler: cannot record a "
                                  "listed work item: ",
                                  describe(err));
                        count->finish_one();
                      });
            });
}

void sweep_plane(reconciler_pointer self, count_ptr count) {
  auto& st = self->state;
  auto& e = st.settings.plane;
  if (!st.settings.send || e.workspace_slug.empty() || e.api_key.empty())
    return;
  for (auto& project : st.settings.projects) {
    std::string cursor;
    for (int page = 0; page < max_pages; ++page) {
      auto res = st.settings.send(plane::list_work_items(
          e, project.plane_project_id, cursor, per_page));
      if (res.status != 200) {
        log::warn("orchd.reconciler: cannot list the work items of ",
                  project.repo, ": ",
                  res.status == 0 ? res.error
                                  : "HTTP " + std::to_string(res.status));
        break;
      }
      auto parsed = plane::parse_work_items(res.body);
      if (!parsed) {
        log::warn("orchd.reconciler: ", describe(parsed.error()));
        break;
      }
      for (auto& item : parsed->items)
        recover_item(self, project, std::move(item), count);
      if (!parsed->more)
        break;
      cursor = parsed->next_cursor;
    }
  }
}

void sweep(reconciler_pointer self, std::function<void(int64_t)> done) {
  ++self->state.sweeps;
  auto count = std::make_shared<sweep_count>();
  count->done = std::move(done);
  // One for the tasks' part and one for this call, so the count cannot
  // reach zero before every part has started.
  count->pending = 2;
  sweep_tasks(self, count);
  sweep_plane(self, count);
  count->finish_one();
}

std::string status_summary(const reconciler_state& st) {
  return nlohmann::json{{"sweeps", st.sweeps},
                        {"tasks_handed", st.tasks_handed},
                        {"items_recovered", st.items_recovered}}
      .dump();
}

} // namespace

reconciler_actor::behavior_type reconciler(reconciler_pointer self,
                                           storage_actor storage,
                                           pipeline_actor pipeline,
                                           task_creator_actor creator,
                                           reconciler_settings settings) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.pipeline = std::move(pipeline);
  st.creator = std::move(creator);
  st.settings = std::move(settings);
  self->send(self, atom::tick_v);
  return counted(self->state.vitals,
                 reconciler_actor::behavior_type{
                     [self](atom::status) {
                       return status_of(self, self->state.vitals, "reconciler",
                                        status_summary(self->state));
                     },
                     [self](atom::tick) {
                       sweep(self, [](int64_t) {});
                       self->delayed_send(self, self->state.settings.interval,
                                          atom::tick_v);
                     },
                     [self](atom::sweep) -> caf::result<int64_t> {
                       auto rp = self->make_response_promise<int64_t>();
                       sweep(self, [rp](int64_t n) mutable { rp.deliver(n); });
                       return rp;
                     },
                 });
}

reconciler_actor spawn_reconciler(caf::actor_system& sys, storage_actor storage,
                                  pipeline_actor pipeline,
                                  task_creator_actor creator,
                                  reconciler_settings settings) {
  return sys.spawn<caf::detached>(reconciler, std::move(storage),
                                  std::move(pipeline), std::move(creator),
                                  std::move(settings));
}

} // namespace orchd
