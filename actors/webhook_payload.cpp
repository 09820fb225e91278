#include "actors/webhook_payload.hpp"

#include "actors/error.hpp"

#include <nlohmann/json.hpp>

namespace orchd {

using json = nlohmann::json;

bool json_depth_within(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (auto c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit)
        return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

namespace {

caf::error missing(const std::string& field) {
  return caf::make_error(ec::invalid_argument,
                         "missing required field " + field);
}

// The string at `key` of an object, "" when absent or not a string.
std::string text(const json& obj, const char* key) {
  if (!obj.is_object())
    return {};
  auto i = obj.find(key);
  if (i == obj.end() || !i->is_string())
    return {};
  return i->get<std::string>();
}

// Values Plane sends as strings or numbers (ids, new values) as text.
std::string scalar(const json& obj, const char* key) {
  if (!obj.is_object())
    return {};
  auto i = obj.find(key);
  if (i == obj.end() || i->is_null())
    return {};
  if (i->is_string())
    return i->get<std::string>();
  if (i->is_primitive())
    return i->dump();
  return {};
}

const json& member(const json& obj, const char* key) {
  static const json null_value;
  if (!obj.is_object())
    return null_value;
  auto i = obj.find(key);
  return i == obj.end() ? null_value : *i;
}

std::string normalised_action(const std::string& action) {
  if (action == "create")
    return "created";
  if (action == "update")
    return "updated";
  if (action == "delete")
    return "deleted";
  return action;
}

} // namespace

std::string plane_event::dedup_key() const {
  // A unit separator cannot appear in any of the parts' JSON text.
  static constexpr char sep = '\x1f';
  return work_item_id + sep + activity_field + sep + activity_new_value + sep +
         updated_at;
}

caf::expected<plane_event> parse_plane_event(const json& body) {
  if (!body.is_object())
    return caf::make_error(ec::invalid_argument, "expected a JSON object");
  auto& data = member(body, "data");
  plane_event x;
  x.event = text(body, "event");
  if (x.event.empty())
    return missing("event");
  x.action = normalised_action(text(body, "action"));
  x.work_item_id = scalar(data, "id");
  if (x.work_item_id.empty())
    return missing("data.id");
  x.project_id = text(data, "project");
  x.name = text(data, "name");
  auto& seq = member(data, "sequence_id");
  if (seq.is_number_integer())
    x.sequence_id = seq.get<int64_t>();
  auto& state = member(data, "state");
  x.state_name = text(state, "name");
  x.state_group = text(state, "group");
  auto& labels = member(data, "labels");
  if (labels.is_array())
    for (auto& label : labels) {
      auto name =
          label.is_string() ? label.get<std::string>() : text(label, "name");
      if (!name.empty())
        x.labels.push_back(std::move(name));
    }
  x.description = text(data, "description_stripped");
  x.updated_at = text(data, "updated_at");
  auto& activity = member(body, "activity");
  x.activity_field = text(activity, "field");
  x.activity_new_value = scalar(activity, "new_value");
  x.actor_id = text(member(activity, "actor"), "id");
  if (x.actor_id.empty())
    x.actor_id = text(data, "updated_by");
  return x;
}

bool is_ci_event_kind(std::string_view kind) {
  return kind == "status" || kind == "check_run" || kind == "check_suite" ||
         kind == "workflow_run" || kind == "pull_request";
}

namespace {

// success, failure or pending from a check's status and conclusion.
std::string check_result(const std::string& status,
                         const std::string& conclusion) {
  if (status != "completed" && !status.empty())
    return "pending";
  if (conclusion == "success" || conclusion == "neutral" ||
      conclusion == "skipped")
    return "success";
  if (conclusion.empty())
    return "pending";
  // failure, cancelled, timed_out, action_required, startup_failure, stale
  return "failure";
}

void add_branch(std::vector<std::string>& out, const std::string& branch) {
  if (branch.empty())
    return;
  for (auto& b : out)
    if (b == branch)
      return;
  out.push_back(branch);
}

void add_pull_request_heads(std::vector<std::string>& out, const json& prs) {
  if (!prs.is_array())
    return;
  for (auto& pr : prs)
    add_branch(out, text(member(pr, "head"), "ref"));
}

} // namespace

caf::expected<ci_event> parse_github_event(const std::string& kind,
                                           const json& body) {
  if (!body.is_object())
    return caf::make_error(ec::invalid_argument, "expected a JSON object");
  ci_event x;
  x.kind = kind;
  x.action = text(body, "action");
  x.repo = text(member(body, "repository"), "full_name");
  if (x.repo.empty() && kind != "ping")
    return missing("repository.full_name");
  if (kind == "status") {
    x.sha = text(body, "sha");
    auto state = text(body, "state");
    x.result = state == "success"                       ? "success"
               : state == "failure" || state == "error" ? "failure"
                                                        : "pending";
    auto& branches = member(body, "branches");
    if (branches.is_array())
      for (auto& b : branches)
        add_branch(x.branches, text(b, "name"));
  } else if (kind == "check_run") {
    auto& run = member(body, "check_run");
    x.sha = text(run, "head_sha");
    x.result = check_result(text(run, "status"), text(run, "conclusion"));
    add_branch(x.branches, text(member(run, "check_suite"), "head_branch"));
    add_pull_request_heads(x.branches, member(run, "pull_requests"));
    add_pull_request_heads(x.branches,
                           member(member(run, "check_suite"), "pull_requests"));
  } else if (kind == "check_suite" || kind == "workflow_run") {
    auto& suite = member(body, kind.c_str());
    x.sha = text(suite, "head_sha");
    x.result = check_result(text(suite, "status"), text(suite, "conclusion"));
    add_branch(x.branches, text(suite, "head_branch"));
    add_pull_request_heads(x.branches, member(suite, "pull_requests"));
  } else if (kind == "pull_request") {
    auto& head = member(member(body, "pull_request"), "head");
    x.sha = text(head, "sha");
    add_branch(x.branches, text(head, "ref"));
  }
  return x;
}

} // namespace orchd
