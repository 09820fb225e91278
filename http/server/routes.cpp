// The route table: which actor answers which request.
#include "http/server/session.hpp"

#include "http/server/answers.hpp"

#include <nlohmann/json.hpp>

#include <caf/send.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>

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
      {"/actors", bhttp::verb::get, route::actors, "GET"},
      {"/metrics", bhttp::verb::get, route::metrics, "GET"},
      {"/jobs", bhttp::verb::get, route::jobs, "GET"},
      {"/costs", bhttp::verb::get, route::costs, "GET"},
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
      {"/tasks/", "/budget", bhttp::verb::post, route::task_budget, "POST"},
      {"/jobs/", "", bhttp::verb::get, route::job, "GET"},
      {"/jobs/", "/cancel", bhttp::verb::post, route::cancel_job, "POST"},
      {"/jobs/", "/requeue", bhttp::verb::post, route::requeue_job, "POST"},
      {"/jobs/", "/log", bhttp::verb::get, route::job_log, "GET"},
  };
  for (auto& e : with_id)
    if (auto id = id_between(path, e.prefix, e.suffix); id > 0)
      return method == e.method ? route{e.kind, e.allow, id}
                                : route{route::wrong_method, e.allow, id};
  // /actors/{name}: a name of letters, digits, '_' and '/' (runner/12).
  constexpr beast::string_view actors_prefix = "/actors/";
  if (path.size() > actors_prefix.size() && path.size() <= 64 &&
      path.substr(0, actors_prefix.size()) == actors_prefix) {
    auto name = path.substr(actors_prefix.size());
    bool ok = std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
             c == '/';
    });
    if (ok) {
      route r{method == bhttp::verb::get ? route::actor : route::wrong_method,
              "GET"};
      r.name = std::string{name};
      return r;
    }
  }
  return route{route::not_found, ""};
}

const char* route::label() const {
  switch (kind) {
  case not_found:
    return "unknown"; // no route: 404, or a request that could not be read
  case wrong_method:
    return "wrong_method";
  case plane:
    return "/webhooks/plane";
  case github:
    return "/webhooks/github";
  case health:
    return "/healthz";
  case queue:
    return "/queue";
  case tasks:
    return "/tasks";
  case task:
    return "/tasks/{id}";
  case job:
    return "/jobs/{id}";
  case cancel_job:
    return "/jobs/{id}/cancel";
  case requeue_job:
    return "/jobs/{id}/requeue";
  case unfreeze:
    return "/serial-gate/unfreeze";
  case freezes:
    return "/freezes";
  case task_deps:
    return "/tasks/{id}/deps";
  case retry_setup:
    return "/tasks/{id}/retry-setup";
  case cancel_task:
    return "/tasks/{id}/cancel";
  case backup:
    return "/backup";
  case actors:
    return "/actors";
  case actor:
    return "/actors/{name}";
  case metrics:
    return "/metrics";
  case job_log:
    return "/jobs/{id}/log";
  case jobs:
    return "/jobs";
  case costs:
    return "/costs";
  case task_budget:
    return "/tasks/{id}/budget";
  }
  return "?";
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
  return reply_to<T>{
      [respond = std::move(respond), show](caf::expected<T> x) mutable {
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

// A query's parameters (`a=1&b=x`, no escapes: orchd's take none); an
// unknown key or a repeated one is an error naming it.
caf::optional<std::string>
query_params(beast::string_view target, std::initializer_list<const char*> keys,
             std::map<std::string, std::string>& out) {
  auto q = target.find('?');
  if (q == beast::string_view::npos)
    return caf::none;
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == beast::string_view::npos ? beast::string_view{}
                                            : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = std::string{pair.substr(0, eq)};
    if (std::none_of(keys.begin(), keys.end(),
                     [&](const char* k) { return key == k; }) ||
        out.count(key) > 0)
      return "unknown or repeated query parameter: " + key.substr(0, 40);
    out[key] = eq == beast::string_view::npos
                   ? std::string{}
                   : std::string{pair.substr(eq + 1)};
  }
  return caf::none;
}

// A count of at most 15 digits, or -1.
int64_t count_of(const std::string& digits) {
  if (digits.empty() || digits.size() > 15 ||
      !std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; }))
    return -1;
  return std::stoll(digits);
}

// GET /jobs/{id}/log?offset=N: the agent's output from byte N.
void dispatch_job_log(const route& r, request& req, const backends& actors,
                      respond_fn respond) {
  std::map<std::string, std::string> params;
  if (auto bad = query_params(req.target(), {"offset"}, params))
    return respond(error_answer(400, *bad));
  int64_t offset = 0;
  if (params.count("offset") && (offset = count_of(params["offset"])) < 0)
    return respond(error_answer(400, "offset must be a byte count"));
  caf::anon_send(actors.admin, atom::output_v, r.id, offset,
                 replying<job_output>(std::move(respond)));
}

// GET /jobs?status=S&limit=N: the newest jobs (default 50, at most 1000).
void dispatch_jobs(request& req, const backends& actors, respond_fn respond) {
  std::map<std::string, std::string> params;
  if (auto bad = query_params(req.target(), {"status", "limit"}, params))
    return respond(error_answer(400, *bad));
  caf::optional<job_status> status;
  if (params.count("status") && !(status = parse_job_status(params["status"])))
    return respond(
        error_answer(400, "status must be queued, running, done or failed"));
  int64_t limit = 50;
  if (params.count("limit") &&
      ((limit = count_of(params["limit"])) < 1 || limit > 1000))
    return respond(error_answer(400, "limit must be 1 to 1000"));
  caf::anon_send(actors.admin, atom::recent_v, limit, status,
                 replying<std::vector<job_row>>(std::move(respond)));
}

// GET /costs?by=K&since=D&until=D: the ledger grouped by K (default
// agent), over the days D (inclusive, UTC; open when left out).
void dispatch_costs(request& req, const backends& actors, respond_fn respond) {
  std::map<std::string, std::string> params;
  if (auto bad = query_params(req.target(), {"by", "since", "until"}, params))
    return respond(error_answer(400, *bad));
  cost_query q;
  if (params.count("by"))
    q.by = params["by"];
  q.since = params["since"];
  q.until = params["until"];
  caf::anon_send(actors.admin, atom::costs_v, std::move(q),
                 replying<cost_report>(std::move(respond)));
}

// POST /tasks/{id}/budget, body {"budget_usd": N}.
void dispatch_budget(const route& r, request& req, const backends& actors,
                     respond_fn respond) {
  auto j = body_object(req.body());
  if (!j)
    return respond(error_answer(400, "the body must be a JSON object"));
  auto usd = j->find("budget_usd");
  if (usd == j->end() || !usd->is_number() || !(usd->get<double>() > 0) ||
      !std::isfinite(usd->get<double>()))
    return respond(error_answer(
        400, "missing field: budget_usd (a positive number of dollars)"));
  budget_change x{r.id, usd->get<double>()};
  caf::anon_send(actors.admin, atom::budget_v, x,
                 replying<int64_t>(std::move(respond), [x](int64_t released) {
                   return http_answer{
                       200, nlohmann::json{{"task_id", x.task_id},
                                           {"budget_usd", x.budget_usd},
                                           {"released", released}}
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
  case route::actors:
    caf::anon_send(actors.admin, atom::status_v,
                   replying<std::vector<actor_status>>(std::move(respond)));
    return;
  case route::actor:
    caf::anon_send(actors.admin, atom::status_v, r.name,
                   replying<actor_status>(std::move(respond)));
    return;
  case route::metrics:
    caf::anon_send(
        actors.admin, atom::metrics_v,
        replying<std::string>(std::move(respond), [](std::string& x) {
          return metrics_answer(std::move(x));
        }));
    return;
  case route::job_log:
    return dispatch_job_log(r, req, actors, std::move(respond));
  case route::jobs:
    return dispatch_jobs(req, actors, std::move(respond));
  case route::costs:
    return dispatch_costs(req, actors, std::move(respond));
  case route::task_budget:
    return dispatch_budget(r, req, actors, std::move(respond));
  case route::not_found:
  case route::wrong_method:
    break;
  }
  respond(error_answer(500, "no handler for this route"));
}

} // namespace orchd::http
