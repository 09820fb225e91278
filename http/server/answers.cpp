#include "http/server/answers.hpp"

#include "actors/core/error.hpp"
#include "actors/core/metrics.hpp"

#include <nlohmann/json.hpp>

namespace orchd::http {

using json = nlohmann::json;

namespace {

// Rows hold text from webhooks and agents: never let the encoder throw on
// bytes that are not UTF-8.
std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json text_or_null(const std::string& x) {
  return x.empty() ? json(nullptr) : json(x);
}

template <class T>
json opt(const caf::optional<T>& x) {
  return x ? json(*x) : json(nullptr);
}

json to_json(const task_row& x) {
  return {{"id", x.id},
          {"plane_id", text_or_null(x.plane_id)},
          {"work_item_id", text_or_null(x.work_item_id)},
          {"repo", x.repo},
          {"branch", text_or_null(x.branch)},
          {"stage", to_string(x.stage)},
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
          {"status", to_string(x.status)},
          {"attempts", x.attempts},
          {"max_attempts", x.max_attempts},
          {"transient_attempts", x.transient_attempts},
          {"interruptions", x.interruptions},
          {"run_id", opt(x.run_id)},
          {"pid", opt(x.pid)},
          {"error", text_or_null(x.error)},
          {"created_at", x.created_at},
          {"started_at", text_or_null(x.started_at)},
          {"finished_at", text_or_null(x.finished_at)},
          {"available_at", text_or_null(x.available_at)},
          {"held", text_or_null(x.held)},
          {"held_until", text_or_null(x.held_until)}};
}

// Tokens by kind, cost, and the share of input tokens read from cache.
json to_json(const cost_line& x) {
  auto input = x.input_tokens + x.cache_read_tokens + x.cache_creation_tokens;
  return {{"key", x.key},
          {"runs", x.runs},
          {"priced_runs", x.priced_runs},
          {"computed_runs", x.computed_runs},
          {"tokens",
           {{"input", x.input_tokens},
            {"output", x.output_tokens},
            {"cache_read", x.cache_read_tokens},
            {"cache_creation", x.cache_creation_tokens}}},
          {"cache_read_share", input == 0
                                   ? 0.0
                                   : static_cast<double>(x.cache_read_tokens) /
                                         static_cast<double>(input)},
          {"cost_usd", x.cost_usd}};
}

json to_json(const freeze_row& f) {
  return {{"id", f.id},
          {"repo", f.repo},
          {"frozen_at", f.frozen_at},
          {"reason", text_or_null(f.reason)},
          {"work_item_id", text_or_null(f.work_item_id)}};
}

json to_json(const std::vector<job_row>& jobs) {
  json out = json::array();
  for (auto& j : jobs)
    out.push_back(to_json(j));
  return out;
}

} // namespace

http_answer error_answer(int status, const std::string& text) {
  return {status, dump(json{{"error", text}})};
}

int status_of(const caf::error& err) {
  if (err == ec::bad_signature)
    return 401;
  if (err == ec::malformed_payload || err == ec::invalid_argument)
    return 400;
  if (err == ec::no_such_task || err == ec::no_such_job ||
      err == ec::not_frozen || err == ec::no_such_actor ||
      err == ec::no_such_run)
    return 404;
  if (err == ec::conflict || err == ec::dependency_cycle)
    return 409;
  return 503;
}

http_answer answer_error(const caf::error& err) {
  auto status = status_of(err);
  if (status == 503)
    return error_answer(503, "unavailable: " + describe(err));
  return error_answer(status, describe(err));
}

http_answer answer(const webhook_receipt& x) {
  if (x.duplicate)
    return {200, dump(json{{"duplicate", true}})};
  if (!x.ignored_because.empty())
    return {202, dump(json{{"event_id", x.event_id},
                           {"ignored", x.ignored_because}})};
  return {200, dump(json{{"event_id", x.event_id}})};
}

http_answer answer(const health_report& x) {
  return {200, dump(json{{"status", "ok"},
                         {"storage", "ok"},
                         {"running_jobs", x.running_jobs}})};
}

http_answer answer_health_error(const caf::error& err) {
  return {503, dump(json{{"status", "degraded"}, {"storage", describe(err)}})};
}

http_answer answer(const task_row& x) {
  return {200, dump(to_json(x))};
}

json to_json(const run_row& r) {
  return {{"id", r.id},
          {"job_id", opt(r.job_id)},
          {"agent", r.agent},
          {"started_at", text_or_null(r.started_at)},
          {"finished_at", text_or_null(r.finished_at)},
          {"outcome", r.outcome ? json(to_string(*r.outcome)) : json(nullptr)},
          {"verdict", text_or_null(r.verdict)},
          {"error", text_or_null(r.error)},
          {"model", text_or_null(r.model)},
          {"effort", text_or_null(r.effort)},
          {"tokens",
           {{"input", opt(r.usage.input_tokens)},
            {"output", opt(r.usage.output_tokens)},
            {"cache_read", opt(r.usage.cache_read_tokens)},
            {"cache_creation", opt(r.usage.cache_creation_tokens)}}},
          {"cost_usd", opt(r.usage.cost_usd)},
          {"cost_computed", r.cost_computed},
          {"stage", text_or_null(r.stage)}};
}

// The task row, then its pipeline: stage history, waits, fix rounds,
// stuck reason, the human gate's stamps and time, CI, and every run.
http_answer answer(const task_detail& x) {
  auto out = to_json(x.task);
  auto& p = x.pipeline;
  json history = json::array();
  for (auto& h : p.history) {
    // "from>to@at"
    auto gt = h.find('>');
    auto at = h.find('@');
    history.push_back({{"from", h.substr(0, gt)},
                       {"to", h.substr(gt + 1, at - gt - 1)},
                       {"at", h.substr(at + 1)}});
  }
  json runs = json::array();
  for (auto& r : x.runs)
    runs.push_back(to_json(r));
  json by_stage = json::array();
  for (auto& line : x.budget.by_stage)
    by_stage.push_back(to_json(line));
  out["waiting"] = text_or_null(to_string(p.waiting));
  out["stuck_reason"] = text_or_null(p.stuck_reason);
  out["expected_sha"] = text_or_null(p.expected_sha);
  out["last_ci_result"] = text_or_null(x.last_ci_result);
  out["ci_failures"] = p.ci_failures;
  out["review_rounds"] = p.review_rounds;
  out["brd_review"] = {
      {"started_at", text_or_null(x.task.brd_review_started_at)},
      {"ended_at", text_or_null(x.task.brd_review_ended_at)},
      {"human_s", opt(x.human_review_s)}};
  out["stage_history"] = std::move(history);
  out["runs"] = std::move(runs);
  auto spent = x.budget.spent_usd();
  out["cost_usd"] = spent;
  out["budget"] = {{"budget_usd", opt(x.budget.budget_usd)},
                   {"spent_usd", spent},
                   {"paused", text_or_null(x.budget.paused)}};
  out["cost_by_stage"] = std::move(by_stage);
  out["jobs"] = to_json(x.jobs);
  out["depends_on"] = x.depends_on;
  out["dependents"] = x.dependents;
  out["open_cards"] = x.open_cards;
  return {200, dump(out)};
}

http_answer answer(const job_row& x) {
  return {200, dump(to_json(x))};
}

http_answer answer(const std::vector<active_task>& tasks) {
  json out = json::array();
  for (auto& t : tasks) {
    auto j = to_json(t.task);
    j["age_s"] = t.age_s;
    out.push_back(std::move(j));
  }
  return {200, dump(json{{"tasks", out}})};
}

http_answer answer(const queue_summary& x) {
  json counts = {{"queued", x.counts.queued},
                 {"running", x.counts.running},
                 {"done", x.counts.done},
                 {"failed", x.counts.failed},
                 {"held", x.counts.held}};
  json accounts = json::array();
  for (auto& a : x.accounts)
    accounts.push_back({{"account", a.account},
                        {"until", a.until},
                        {"reason", a.reason},
                        {"agents", a.agents}});
  return {200, dump(json{{"counts", counts},
                         {"running", to_json(x.running)},
                         {"recent", to_json(x.recent)},
                         {"held", to_json(x.held)},
                         {"held_accounts", std::move(accounts)}})};
}

http_answer answer(const std::vector<freeze_row>& rows) {
  json out = json::array();
  for (auto& f : rows)
    out.push_back(to_json(f));
  return {200, dump(json{{"freezes", out}})};
}

namespace {

json to_json(const actor_status& x) {
  auto state = json::parse(x.state, nullptr, false);
  return {
      {"name", x.name},
      {"health", x.health},
      {"mailbox", x.mailbox},
      {"handled", x.handled},
      {"last_error_at",
       x.last_error_at == 0 ? json(nullptr) : json(x.last_error_at)},
      {"last_error", x.last_error.empty() ? json(nullptr) : json(x.last_error)},
      {"state", state.is_discarded() ? json::object() : state}};
}

} // namespace

http_answer answer(const actor_status& x) {
  return {200, dump(to_json(x))};
}

http_answer answer(const std::vector<actor_status>& xs) {
  auto all = json::array();
  for (auto& x : xs)
    all.push_back(to_json(x));
  return {200, dump(json{{"version", ORCHD_VERSION},
                         {"uptime_s", metrics::uptime_seconds()},
                         {"actors", std::move(all)}})};
}

http_answer answer(const std::vector<job_row>& x) {
  return {200, dump(json{{"jobs", to_json(x)}})};
}

http_answer answer(const job_output& x) {
  http_answer a{200, x.bytes, "text/plain; charset=utf-8"};
  a.headers = {{"X-Orchd-Offset", std::to_string(x.offset)},
               {"X-Orchd-Next-Offset", std::to_string(x.next_offset)},
               {"X-Orchd-Finished", x.finished ? "true" : "false"}};
  return a;
}

http_answer answer(const cost_report& x) {
  json lines = json::array();
  for (auto& line : x.lines)
    lines.push_back(to_json(line));
  return {200, dump(json{{"by", x.query.by},
                         {"since", text_or_null(x.query.since)},
                         {"until", text_or_null(x.query.until)},
                         {"rows", std::move(lines)},
                         {"total", to_json(x.total)}})};
}

http_answer metrics_answer(std::string text) {
  return {200, std::move(text), "text/plain; version=0.0.4; charset=utf-8"};
}

} // namespace orchd::http
