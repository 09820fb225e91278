// The route table: which actor answers which request.
#include "http/server/session.hpp"

#include "http/server/answers.hpp"

#include <nlohmann/json.hpp>

#include <caf/send.hpp>

namespace orchd::http {

namespace {

// The id in /prefix/{id}/suffix (suffix may be empty): digits only, else 0.
int64_t id_between(beast::string_view path, beast::string_view prefix,
                   beast::string_view suffix) {
  if (path.size() <= prefix.size() + suffix.size() ||
      path.substr(0, prefix.size()) != prefix ||
      path.substr(path.size() - suffix.size()) != suffix)
    return 0;
  auto digits =
      path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (digits.size() > 18)
    return 0;
  int64_t id = 0;
  for (auto c : digits) {
    if (c < '0' || c > '9')
      return 0;
    id = id * 10 + (c - '0');
  }
  return id;
}

} // namespace

route find_route(bhttp::verb method, beast::string_view target) {
  auto path = target.substr(0, target.find('?'));
  struct entry {
    beast::string_view path;
    bhttp::verb method;
    route::kind_t kind;
    const char* allow;
  };
  static const entry table[] = {
      {"/webhooks/plane", bhttp::verb::post, route::plane, "POST"},
      {"/webhooks/github", bhttp::verb::post, route::github, "POST"},
      {"/healthz", bhttp::verb::get, route::health, "GET"},
      {"/queue", bhttp::verb::get, route::queue, "GET"},
      {"/tasks", bhttp::verb::get, route::tasks, "GET"},
      {"/freezes", bhttp::verb::get, route::freezes, "GET"},
      {"/serial-gate/unfreeze", bhttp::verb::post, route::unfreeze, "POST"},
      {"/backup", bhttp::verb::post, route::backup, "POST"},
  };
  for (auto& e : table)
    if (e.path == path)
      return method == e.method ? route{e.kind, e.allow}
                                : route{route::wrong_method, e.allow};
  struct id_entry {
    beast::string_view prefix;
    beast::string_view suffix;
    bhttp::verb method;
    route::kind_t kind;
    const char* allow;
  };
  static const id_entry with_id[] = {
      {"/tasks/", "", bhttp::verb::get, route::task, "GET"},
      {"/tasks/", "/deps", bhttp::verb::post, route::task_deps, "POST"},
      {"/tasks/", "/retry-setup", bhttp::verb::post, route::retry_setup,
       "POST"},
      {"/tasks/", "/cancel", bhttp::verb::post, route::cancel_task, "POST"},
      {"/jobs/", "", bhttp::verb::get, route::job, "GET"},
      {"/jobs/", "/cancel", bhttp::verb::post, route::cancel_job, "POST"},
      {"/jobs/", "/requeue", bhttp::verb::post, route::requeue_job, "POST"},
  };
  for (auto& e : with_id)
    if (auto id = id_between(path, e.prefix, e.suffix); id > 0)
      return method == e.method ? route{e.kind, e.allow, id}
                                : route{route::wrong_method, e.allow, id};
  return route{route::not_found, ""};
}

namespace {

std::string header(const request& req, beast::string_view name) {
  auto i = req.find(name);
  return i == req.end() ? std::string{} : std::string{i->value()};
}

using respond_fn = std::function<void(http_answer)>;

// The actor's typed answer, shown by `show`, or its error's answer.
template <class T, class Show>
reply_to<T> replying(respond_fn respond, Show show) {
  return reply_to<T>{[respond = std::move(respond), show](caf::expected<T> x) {
    respond(x ? show(*x) : answer_error(x.error()));
  }};
}

template <class T>
reply_to<T> replying(respond_fn respond) {
  return replying<T>(std::move(respond), [](const T& x) { return answer(x); });
}

// The JSON object of a request body, or none.
caf::optional<nlohmann::json> body_object(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return caf::none;
  return j;
}

void dispatch_webhook(const route& r, request& req, const backends& actors,
                      respond_fn respond) {
  auto d = delivery_of(r, req);
  // A sender retries on 503: say so plainly, whatever storage's error was.
  reply_to<webhook_receipt> reply{
      [respond = std::move(respond)](caf::expected<webhook_receipt> x) {
        if (x)
          respond(answer(*x));
        else if (status_of(x.error()) == 503)
          respond(error_answer(503, "storage unavailable, retry"));
        else
          respond(answer_error(x.error()));
      }};
  caf::anon_send(actors.intake, atom::webhook_v, std::move(d),
                 std::move(reply));
}

// POST /serial-gate/unfreeze, body {"repo": ...}.
void dispatch_unfreeze(request& req, const backends& actors,
                       respond_fn respond) {
  auto j = body_object(req.body());
  if (!j)
    return respond(error_answer(400, "the body must be a JSON object"));
  auto repo = j->find("repo");
  if (repo == j->end() || !repo->is_string() ||
      repo->get<std::string>().empty())
    return respond(error_answer(400, "missing field: repo (a string)"));
  auto name = repo->get<std::string>();
  caf::anon_send(
      actors.admin, atom::unfreeze_v, name,
      replying<int64_t>(std::move(respond), [name](int64_t cleared) {
        return http_answer{
            200, nlohmann::json{{"repo", name}, {"cleared", cleared}}.dump()};
      }));
}

// POST /backup, body {"path": absolute path of a new file}.
void dispatch_backup(request& req, const backends& actors, respond_fn respond) {
  auto j = body_object(req.body());
  if (!j)
    return respond(error_answer(400, "the body must be a JSON object"));
  auto path = j->find("path");
  if (path == j->end() || !path->is_string() ||
      path->get<std::string>().empty())
    return respond(error_answer(400, "missing field: path (a string)"));
  caf::anon_send(
      actors.admin, atom::backup_v, path->get<std::string>(),
      replying<backup_result>(std::move(respond), [](const backup_result& r) {
        return http_answer{200, nlohmann::json{{"path", r.path},
                                               {"pages", r.pages},
                                               {"bytes", r.bytes}}
                                    .dump()};
      }));
}

// POST /tasks/{id}/deps, body {"depends_on": id}.
void dispatch_add_dep(const route& r, request& req, const backends& actors,
                      respond_fn respond) {
  auto j = body_object(req.body());
  if (!j)
    return respond(error_answer(400, "the body must be a JSON object"));
  auto dep = j->find("depends_on");
  if (dep == j->end() || !dep->is_number_integer())
    return respond(error_answer(400, "missing field: depends_on (a task id)"));
  auto task = r.id;
  auto other = dep->get<int64_t>();
  caf::anon_send(
      actors.admin, atom::add_dep_v, task, other,
      replying<bool>(std::move(respond), [task, other](bool created) {
        return http_answer{200, nlohmann::json{{"task_id", task},
                                               {"depends_on", other},
                                               {"created", created}}
                                    .dump()};
      }));
}

} // namespace

webhook_delivery delivery_of(const route& r, request& req) {
  bool plane = r.kind == route::plane;
  webhook_delivery d;
  d.source = plane ? "plane" : "github";
  d.event_type = header(req, plane ? "X-Plane-Event" : "X-GitHub-Event");
  d.delivery_id = header(req, plane ? "X-Plane-Delivery" : "X-GitHub-Delivery");
  d.signature =
      header(req, plane ? "X-Plane-Signature" : "X-Hub-Signature-256");
  d.body = std::move(req.body());
  return d;
}

void dispatch_request(const route& r, request& req, const backends& actors,
                      respond_fn respond) {
  switch (r.kind) {
  case route::plane:
  case route::github:
    return dispatch_webhook(r, req, actors, std::move(respond));
  case route::health:
    caf::anon_send(actors.intake, atom::health_v,
                   reply_to<health_report>{[respond = std::move(respond)](
                                               caf::expected<health_report> x) {
                     respond(x ? answer(*x) : answer_health_error(x.error()));
                   }});
    return;
  case route::queue:
    caf::anon_send(actors.admin, atom::queue_v,
                   replying<queue_summary>(std::move(respond)));
    return;
  case route::tasks:
    caf::anon_send(actors.admin, atom::open_tasks_v,
                   replying<std::vector<active_task>>(std::move(respond)));
    return;
  case route::task:
    caf::anon_send(actors.admin, atom::detail_v, r.id,
                   replying<task_detail>(std::move(respond)));
    return;
  case route::job:
    caf::anon_send(actors.admin, atom::job_by_id_v, r.id,
                   replying<job_row>(std::move(respond)));
    return;
  case route::cancel_job:
    caf::anon_send(actors.admin, atom::cancel_v, r.id,
                   replying<job_row>(std::move(respond)));
    return;
  case route::requeue_job:
    caf::anon_send(actors.admin, atom::requeue_v, r.id,
                   replying<job_row>(std::move(respond)));
    return;
  case route::unfreeze:
    return dispatch_unfreeze(req, actors, std::move(respond));
  case route::backup:
    return dispatch_backup(req, actors, std::move(respond));
  case route::freezes:
    caf::anon_send(actors.admin, atom::freezes_v,
                   replying<std::vector<freeze_row>>(std::move(respond)));
    return;
  case route::task_deps:
    return dispatch_add_dep(r, req, actors, std::move(respond));
  case route::cancel_task:
    caf::anon_send(actors.admin, atom::stop_task_v, r.id,
                   replying<task_row>(std::move(respond)));
    return;
  case route::retry_setup:
    caf::anon_send(actors.admin, atom::setup_v, r.id,
                   replying<task_row>(std::move(respond)));
    return;
  case route::not_found:
  case route::wrong_method:
    break;
  }
  respond(error_answer(500, "no handler for this route"));
}

} // namespace orchd::http
