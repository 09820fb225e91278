// The route table: which actor answers which request.
#include "http/session.hpp"

#include "actors/intake.hpp"

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

} // namespace

void dispatch_request(const route& r, request& req, const backends& actors,
                      std::function<void(http_answer)> respond) {
  reply_callback reply{std::move(respond)};
  switch (r.kind) {
  case route::plane:
  case route::github: {
    bool plane = r.kind == route::plane;
    webhook_delivery d;
    d.source = plane ? "plane" : "github";
    d.event_type = header(req, plane ? "X-Plane-Event" : "X-GitHub-Event");
    d.delivery_id =
        header(req, plane ? "X-Plane-Delivery" : "X-GitHub-Delivery");
    d.signature =
        header(req, plane ? "X-Plane-Signature" : "X-Hub-Signature-256");
    d.body = std::move(req.body());
    caf::anon_send(actors.intake, atom::webhook_v, std::move(d),
                   std::move(reply));
    return;
  }
  case route::health:
    caf::anon_send(actors.intake, atom::health_v, std::move(reply));
    return;
  case route::queue:
    caf::anon_send(actors.admin, atom::count_v, atom::job_v, std::move(reply));
    return;
  case route::tasks:
    caf::anon_send(actors.admin, atom::list_v, atom::task_v, std::move(reply));
    return;
  case route::task:
    caf::anon_send(actors.admin, atom::get_v, atom::task_v, r.id,
                   std::move(reply));
    return;
  case route::job:
    caf::anon_send(actors.admin, atom::get_v, atom::job_v, r.id,
                   std::move(reply));
    return;
  case route::cancel_job:
    caf::anon_send(actors.admin, atom::cancel_v, r.id, std::move(reply));
    return;
  case route::requeue_job:
    caf::anon_send(actors.admin, atom::requeue_v, atom::job_v, r.id,
                   std::move(reply));
    return;
  case route::unfreeze:
    caf::anon_send(actors.admin, atom::unfreeze_v, std::move(req.body()),
                   std::move(reply));
    return;
  case route::freezes:
    caf::anon_send(actors.admin, atom::list_v, atom::freeze_v,
                   std::move(reply));
    return;
  case route::task_deps:
    caf::anon_send(actors.admin, atom::add_v, atom::dep_v, r.id,
                   std::move(req.body()), std::move(reply));
    return;
  case route::not_found:
  case route::wrong_method:
    break;
  }
  reply.deliver(error_answer(500, "no handler for this route"));
}

} // namespace orchd::http
