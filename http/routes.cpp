// The route table: which actor answers which request.
#include "http/session.hpp"

#include "actors/intake.hpp"

#include <caf/send.hpp>

namespace orchd::http {

namespace {

// The id in /prefix/{id}: digits only, else 0.
int64_t id_after(beast::string_view path, beast::string_view prefix) {
  if (path.size() <= prefix.size() || path.substr(0, prefix.size()) != prefix)
    return 0;
  auto digits = path.substr(prefix.size());
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
  };
  auto with_method = [&](route::kind_t kind, const char* allow, int64_t id) {
    return method == bhttp::verb::get ? route{kind, allow, id}
                                      : route{route::wrong_method, allow, id};
  };
  for (auto& e : table)
    if (e.path == path)
      return method == e.method ? route{e.kind, e.allow}
                                : route{route::wrong_method, e.allow};
  if (auto id = id_after(path, "/tasks/"); id > 0)
    return with_method(route::task, "GET", id);
  if (auto id = id_after(path, "/jobs/"); id > 0)
    return with_method(route::job, "GET", id);
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
  case route::not_found:
  case route::wrong_method:
    break;
  }
  reply.deliver(error_answer(500, "no handler for this route"));
}

} // namespace orchd::http
