#include "actors/logic/webhook_payload.hpp"

#include "actors/core/error.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <memory>

namespace orchd {

namespace {

namespace dom = simdjson::dom;

// A value looked up in a document: an element, or why there is none (absent
// key, wrong type); lookups through a missing value stay missing.
using node = simdjson::simdjson_result<dom::element>;

node as_node(dom::element e) {
  return node{std::move(e)};
}

caf::error invalid(std::string text) {
  return caf::make_error(ec::malformed_payload, std::move(text));
}

caf::error missing(const std::string& field) {
  return invalid("missing required field " + field);
}

// Parses `body` on this thread's parser and reads it with `read`, which must
// copy out what it keeps: the document lives until the next parse.
template <class T, class Read>
caf::expected<T> read_document(std::string_view body, size_t max_depth,
                               Read read) {
  // One parser per thread: its buffers are reused from body to body. Its
  // depth stack is fixed at `max_depth`, so nesting beyond it is an error,
  // not a deep recursion.
  thread_local std::unique_ptr<dom::parser> parser;
  // A parser grown for a huge body (GitHub sends up to 25 MB) is dropped
  // after it, instead of holding that memory for the thread's lifetime.
  constexpr size_t kept_capacity = 1024 * 1024;
  // simdjson counts the document itself as a level (and lets an empty
  // innermost array or object through free).
  auto parser_depth = max_depth + 1;
  if (!parser || parser->max_depth() != parser_depth) {
    parser = std::make_unique<dom::parser>();
    if (auto err = parser->allocate(64 * 1024, parser_depth)) {
      parser.reset();
      return invalid(std::string{"JSON parser: "} +
                     simdjson::error_message(err));
    }
  }
  dom::element root;
  auto err = parser->parse(body.data(), body.size()).get(root);
  caf::expected<T> result{caf::error{}};
  if (err == simdjson::DEPTH_ERROR)
    result = invalid("JSON nested deeper than " + std::to_string(max_depth) +
                     " levels");
  else if (err)
    result = invalid(std::string{"body is not valid JSON: "} +
                     simdjson::error_message(err));
  else if (!root.is_object())
    result = invalid("expected a JSON object");
  else
    result = read(as_node(root));
  if (parser->capacity() > kept_capacity)
    parser.reset();
  return result;
}

// The string at `n`, "" when absent or not a string.
std::string text(node n) {
  std::string_view s;
  if (n.get(s))
    return {};
  return std::string{s};
}

// Values Plane sends as strings or numbers (ids, new values) as text, as
// nlohmann::json (the parser before) printed them, so dedup keys stored
// then still match: integers and booleans alike, a double in its shortest
// round-trip form with a fraction or exponent (alike for everyday values;
// a very large or very small magnitude may print otherwise).
std::string scalar(node n) {
  dom::element e;
  if (n.get(e))
    return {};
  switch (e.type()) {
  case dom::element_type::STRING:
    return std::string{e.get_string().value_unsafe()};
  case dom::element_type::INT64:
    return std::to_string(e.get_int64().value_unsafe());
  case dom::element_type::UINT64:
    return std::to_string(e.get_uint64().value_unsafe());
  case dom::element_type::BOOL:
    return e.get_bool().value_unsafe() ? "true" : "false";
  case dom::element_type::DOUBLE: {
    char buf[64];
    auto r =
        std::to_chars(buf, buf + sizeof buf, e.get_double().value_unsafe());
    std::string out{buf, r.ptr};
    if (out.find_first_of(".eE") == std::string::npos)
      out += ".0";
    return out;
  }
  default:
    return {};
  }
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

caf::expected<plane_event> parse_plane_event(std::string_view body,
                                             size_t max_depth) {
  return read_document<plane_event>(
      body, max_depth, [](node body) -> caf::expected<plane_event> {
        auto data = body["data"];
        plane_event x;
        x.event = text(body["event"]);
        if (x.event.empty())
          return missing("event");
        x.action = normalised_action(text(body["action"]));
        x.work_item_id = scalar(data["id"]);
        if (x.work_item_id.empty())
          return missing("data.id");
        x.project_id = text(data["project"]);
        x.name = text(data["name"]);
        // A work item's id and worktree come from its sequence id: one past
        // the supported width would be cut or wrapped into another's.
        auto seq_node = data["sequence_id"];
        if (!seq_node.error() && !seq_node.is_null()) {
          int64_t seq = 0;
          if (seq_node.get(seq) || seq < 1 || seq > max_sequence_id)
            return invalid("data.sequence_id: expected an integer from 1 to " +
                           std::to_string(max_sequence_id));
          x.sequence_id = seq;
        }
        x.state_name = text(data["state"]["name"]);
        x.state_group = text(data["state"]["group"]);
        dom::array labels;
        if (!data["labels"].get(labels))
          for (dom::element label : labels) {
            auto name =
                label.is_string() ? text(as_node(label)) : text(label["name"]);
            if (!name.empty())
              x.labels.push_back(std::move(name));
          }
        x.description = text(data["description_stripped"]);
        x.updated_at = text(data["updated_at"]);
        auto activity = body["activity"];
        x.activity_field = text(activity["field"]);
        x.activity_new_value = scalar(activity["new_value"]);
        x.actor_id = text(activity["actor"]["id"]);
        if (x.actor_id.empty())
          x.actor_id = text(data["updated_by"]);
        return x;
      });
}

bool is_commit_sha(std::string_view x) {
  return x.size() == 40 && std::all_of(x.begin(), x.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
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

void add_pull_request_heads(std::vector<std::string>& out, node prs) {
  dom::array list;
  if (prs.get(list))
    return;
  for (dom::element pr : list)
    add_branch(out, text(pr["head"]["ref"]));
}

} // namespace

caf::expected<ci_event> parse_github_event(std::string_view kind,
                                           std::string_view body,
                                           size_t max_depth) {
  return read_document<ci_event>(
      body, max_depth, [kind](node body) -> caf::expected<ci_event> {
        ci_event x;
        x.kind = std::string{kind};
        x.action = text(body["action"]);
        x.repo = text(body["repository"]["full_name"]);
        if (x.repo.empty() && kind != "ping")
          return missing("repository.full_name");
        if (kind == "status") {
          x.sha = text(body["sha"]);
          auto state = text(body["state"]);
          x.result = state == "success"                       ? "success"
                     : state == "failure" || state == "error" ? "failure"
                                                              : "pending";
          x.check_name = text(body["context"]);
          x.conclusion = state;
          x.url = text(body["target_url"]);
          dom::array branches;
          if (!body["branches"].get(branches))
            for (dom::element b : branches)
              add_branch(x.branches, text(b["name"]));
        } else if (kind == "check_run") {
          auto run = body["check_run"];
          x.sha = text(run["head_sha"]);
          x.result = check_result(text(run["status"]), text(run["conclusion"]));
          x.check_name = text(run["name"]);
          x.conclusion = text(run["conclusion"]);
          x.url = text(run["html_url"]);
          if (x.url.empty())
            x.url = text(run["details_url"]);
          add_branch(x.branches, text(run["check_suite"]["head_branch"]));
          add_pull_request_heads(x.branches, run["pull_requests"]);
          add_pull_request_heads(x.branches,
                                 run["check_suite"]["pull_requests"]);
        } else if (kind == "check_suite" || kind == "workflow_run") {
          auto suite = body[kind];
          x.sha = text(suite["head_sha"]);
          x.result =
              check_result(text(suite["status"]), text(suite["conclusion"]));
          x.check_name = text(suite["name"]);
          if (x.check_name.empty())
            x.check_name = text(suite["app"]["name"]);
          x.conclusion = text(suite["conclusion"]);
          x.url = text(suite["html_url"]);
          add_branch(x.branches, text(suite["head_branch"]));
          add_pull_request_heads(x.branches, suite["pull_requests"]);
        } else if (kind == "pull_request") {
          auto head = body["pull_request"]["head"];
          x.sha = text(head["sha"]);
          add_branch(x.branches, text(head["ref"]));
        }
        // The sha reaches git's command line: a commit id and nothing else.
        if (!x.sha.empty() && !is_commit_sha(x.sha))
          return invalid("sha: expected 40 lower-case hex digits");
        return x;
      });
}

} // namespace orchd
