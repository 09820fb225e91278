// The route table: which actor answers which request.
#include "http/session.hpp"

#include "actors/intake.hpp"

#include <caf/send.hpp>

namespace orchd::http {

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
  };
  for (auto& e : table)
    if (e.path == path)
      return method == e.method ? route{e.kind, e.allow}
                                : route{route::wrong_method, e.allow};
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
  case route::not_found:
  case route::wrong_method:
    break;
  }
  reply.deliver(error_answer(500, "no handler for this route"));
}

} // namespace orchd::http
