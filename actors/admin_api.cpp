#include "actors/admin_api.hpp"

#include "actors/error.hpp"
#include "actors/intake.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

namespace orchd {

using json = nlohmann::json;

namespace {

json text_or_null(const std::string& x) {
  return x.empty() ? json(nullptr) : json(x);
}

template <class T>
json opt(const caf::optional<T>& x) {
  return x ? json(*x) : json(nullptr);
}

} // namespace

json to_json(const task_row& x) {
  return {{"id", x.id},
          {"plane_id", text_or_null(x.plane_id)},
          {"work_item_id", text_or_null(x.work_item_id)},
          {"repo", x.repo},
          {"branch", text_or_null(x.branch)},
          {"stage", x.stage},
          {"title", text_or_null(x.title)},
          {"created_at", x.created_at},
          {"updated_at", x.updated_at},
          {"tracker_message_id", opt(x.tracker_message_id)}};
}

json to_json(const job_row& x) {
  return {{"id", x.id},
          {"agent", x.agent},
          {"repo", x.repo},
          {"task_id", opt(x.task_id)},
          {"status", x.status},
          {"attempts", x.attempts},
          {"max_attempts", x.max_attempts},
          {"transient_attempts", x.transient_attempts},
          {"run_id", opt(x.run_id)},
          {"pid", opt(x.pid)},
          {"error", text_or_null(x.error)},
          {"created_at", x.created_at},
          {"started_at", text_or_null(x.started_at)},
          {"finished_at", text_or_null(x.finished_at)},
          {"available_at", text_or_null(x.available_at)}};
}

namespace {

using api_pointer = admin_api_actor::stateful_pointer<admin_api_state>;

// Answers 404 for a missing row, 503 when storage failed.
void answer_error(const reply_callback& reply, const caf::error& err) {
  if (err == ec::no_such_task || err == ec::no_such_job)
    reply.deliver(error_answer(404, describe(err)));
  else
    reply.deliver(error_answer(503, "storage unavailable: " + describe(err)));
}

admin_api_actor::behavior_type admin_api(api_pointer self,
                                         storage_actor storage,
                                         std::chrono::milliseconds timeout) {
  self->state.storage = std::move(storage);
  self->state.timeout = timeout;
  return {
      [self](atom::get, atom::task, int64_t id, reply_callback& reply) {
        self->request(self->state.storage, self->state.timeout, atom::get_v,
                      atom::task_v, id)
            .then(
                [reply](const task_row& t) {
                  reply.deliver({200, to_json(t).dump()});
                },
                [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::list, atom::task, reply_callback& reply) {
        self->request(self->state.storage, self->state.timeout, atom::list_v,
                      atom::active_v)
            .then(
                [reply](const std::vector<active_task>& tasks) {
                  json out = json::array();
                  for (auto& t : tasks) {
                    auto j = to_json(t.task);
                    j["age_s"] = t.age_s;
                    out.push_back(std::move(j));
                  }
                  reply.deliver({200, json{{"tasks", out}}.dump()});
                },
                [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::get, atom::job, int64_t id, reply_callback& reply) {
        self->request(self->state.storage, self->state.timeout, atom::get_v,
                      atom::job_v, id)
            .then(
                [reply](const job_row& j) {
                  reply.deliver({200, to_json(j).dump()});
                },
                [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::count, atom::job, reply_callback& reply) {
        auto& st = self->state;
        self->request(st.storage, st.timeout, atom::count_v, atom::job_v)
            .then(
                [self, reply](const job_counts& c) {
                  auto& st = self->state;
                  json counts = {{"queued", c.queued},
                                 {"running", c.running},
                                 {"done", c.done},
                                 {"failed", c.failed}};
                  self->request(st.storage, st.timeout, atom::list_v,
                                atom::job_v, int64_t{20})
                      .then(
                          [reply, counts](const std::vector<job_row>& recent) {
                            json running = json::array();
                            json latest = json::array();
                            for (auto& j : recent) {
                              if (j.status == "running")
                                running.push_back(to_json(j));
                              latest.push_back(to_json(j));
                            }
                            reply.deliver({200, json{{"counts", counts},
                                                     {"running", running},
                                                     {"recent", latest}}
                                                    .dump()});
                          },
                          [reply](const caf::error& err) {
                            answer_error(reply, err);
                          });
                },
                [reply](const caf::error& err) { answer_error(reply, err); });
      },
  };
}

} // namespace

admin_api_actor spawn_admin_api(caf::actor_system& sys, storage_actor storage,
                                std::chrono::milliseconds timeout) {
  return sys.spawn(admin_api, std::move(storage), timeout);
}

} // namespace orchd
