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

// 404 for a missing row, 409 for a state conflict, 400 for a refused
// argument, else 503 (storage failed or timed out: retry).
void answer_error(const reply_callback& reply, const caf::error& err) {
  if (err == ec::no_such_task || err == ec::no_such_job ||
      err == ec::not_frozen)
    reply.deliver(error_answer(404, describe(err)));
  else if (err == ec::conflict || err == ec::dependency_cycle)
    reply.deliver(error_answer(409, describe(err)));
  else if (err == ec::invalid_argument)
    reply.deliver(error_answer(400, describe(err)));
  else
    reply.deliver(error_answer(503, "unavailable: " + describe(err)));
}

// The JSON object of a request body, or a 400 already answered.
caf::optional<json> body_object(const std::string& body,
                                const reply_callback& reply) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    reply.deliver(error_answer(400, "the body must be a JSON object"));
    return caf::none;
  }
  return j;
}

// The shape of most routes: ask `dest`, answer 200 with `body(reply)` as
// JSON, or the error's status.
template <class T, class Dest, class Body, class... Ts>
void ask_and_answer(api_pointer self, const Dest& dest,
                    const reply_callback& reply, Body body, Ts&&... xs) {
  self->request(dest, self->state.timeout, std::forward<Ts>(xs)...)
      .then(
          [reply, body](T& x) {
            reply.deliver({200, body(x).dump()});
          },
          [reply](const caf::error& err) { answer_error(reply, err); });
}

// Answers the job's row (GET /jobs/{id}, and after an operator action).
void answer_job(api_pointer self, int64_t id, const reply_callback& reply) {
  ask_and_answer<job_row>(
      self, self->state.to.storage, reply,
      [](const job_row& j) { return to_json(j); }, atom::get_v, atom::job_v,
      id);
}

json to_json(const freeze_row& f) {
  return {{"id", f.id},
          {"repo", f.repo},
          {"frozen_at", f.frozen_at},
          {"reason", text_or_null(f.reason)},
          {"work_item_id", text_or_null(f.work_item_id)}};
}

admin_api_actor::behavior_type admin_api(api_pointer self, admin_backends to,
                                         std::chrono::milliseconds timeout) {
  self->state.to = std::move(to);
  self->state.timeout = timeout;
  return {
      [self](atom::cancel, int64_t id, reply_callback& reply) {
        self->request(self->state.to.scheduler, self->state.timeout,
                      atom::cancel_v, id)
            .then([self, id, reply](bool) { answer_job(self, id, reply); },
                  [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::requeue, atom::job, int64_t id, reply_callback& reply) {
        self->request(self->state.to.scheduler, self->state.timeout,
                      atom::requeue_v, atom::job_v, id)
            .then([self, id, reply](bool) { answer_job(self, id, reply); },
                  [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::unfreeze, const std::string& body, reply_callback& reply) {
        auto j = body_object(body, reply);
        if (!j)
          return;
        auto repo = j->find("repo");
        if (repo == j->end() || !repo->is_string() ||
            repo->get<std::string>().empty()) {
          reply.deliver(error_answer(400, "missing field: repo (a string)"));
          return;
        }
        auto name = repo->get<std::string>();
        ask_and_answer<int64_t>(
            self, self->state.to.freezes, reply,
            [name](int64_t cleared) {
              return json{{"repo", name}, {"cleared", cleared}};
            },
            atom::unfreeze_v, name);
      },
      [self](atom::list, atom::freeze, reply_callback& reply) {
        ask_and_answer<std::vector<freeze_row>>(
            self, self->state.to.freezes, reply,
            [](const std::vector<freeze_row>& rows) {
              json out = json::array();
              for (auto& f : rows)
                out.push_back(to_json(f));
              return json{{"freezes", out}};
            },
            atom::list_v, atom::freeze_v);
      },
      [self](atom::add, atom::dep, int64_t task, const std::string& body,
             reply_callback& reply) {
        auto j = body_object(body, reply);
        if (!j)
          return;
        auto dep = j->find("depends_on");
        if (dep == j->end() || !dep->is_number_integer()) {
          reply.deliver(
              error_answer(400, "missing field: depends_on (a task id)"));
          return;
        }
        auto other = dep->get<int64_t>();
        self->request(self->state.to.storage, self->state.timeout, atom::add_v,
                      atom::dep_v, task, other, true)
            .then(
                [self, reply, task, other](bool created) {
                  reply.deliver({200, json{{"task_id", task},
                                           {"depends_on", other},
                                           {"created", created}}
                                          .dump()});
                  self->send(self->state.to.scheduler, atom::wake_v);
                },
                [reply](const caf::error& err) { answer_error(reply, err); });
      },
      [self](atom::get, atom::task, int64_t id, reply_callback& reply) {
        ask_and_answer<task_row>(
            self, self->state.to.storage, reply,
            [](const task_row& t) { return to_json(t); }, atom::get_v,
            atom::task_v, id);
      },
      [self](atom::list, atom::task, reply_callback& reply) {
        ask_and_answer<std::vector<active_task>>(
            self, self->state.to.storage, reply,
            [](const std::vector<active_task>& tasks) {
              json out = json::array();
              for (auto& t : tasks) {
                auto j = to_json(t.task);
                j["age_s"] = t.age_s;
                out.push_back(std::move(j));
              }
              return json{{"tasks", out}};
            },
            atom::list_v, atom::active_v);
      },
      [self](atom::get, atom::job, int64_t id, reply_callback& reply) {
        answer_job(self, id, reply);
      },
      [self](atom::count, atom::job, reply_callback& reply) {
        auto& st = self->state;
        self->request(st.to.storage, st.timeout, atom::count_v, atom::job_v)
            .then(
                [self, reply](const job_counts& c) {
                  auto& st = self->state;
                  json counts = {{"queued", c.queued},
                                 {"running", c.running},
                                 {"done", c.done},
                                 {"failed", c.failed}};
                  self->request(st.to.storage, st.timeout, atom::list_v,
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

admin_api_actor spawn_admin_api(caf::actor_system& sys, admin_backends to,
                                std::chrono::milliseconds timeout) {
  return sys.spawn(admin_api, std::move(to), timeout);
}

} // namespace orchd
