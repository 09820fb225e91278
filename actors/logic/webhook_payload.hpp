// What intake reads from a webhook body: pure functions over its raw text,
// tested without an actor system. Malformed or too deeply nested JSON and
// missing required fields are `ec::malformed_payload` errors that say which
// (HTTP 400).
#pragma once

#include <caf/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orchd {

/// How deep arrays and objects may nest in a webhook body, unless the
/// caller says otherwise. The parser keeps one fixed-size stack of this
/// depth, so a hostile body cannot exhaust memory or the call stack.
constexpr size_t default_json_depth = 64;
/// The deepest limit the configuration may set (real payloads nest fewer
/// than 20 levels; the parser allocates a stack of the limit per thread).
constexpr size_t max_json_depth_limit = 1024;

/// The largest Plane sequence id orchd takes (ids up to ET-999999999);
/// a larger one is refused rather than cut into another work item's id.
constexpr int64_t max_sequence_id = 999'999'999;

/// A Plane delivery, as far as orchd uses it.
struct plane_event {
  /// "issue", "cycle", "module", ...
  std::string event;
  /// created, updated or deleted (Plane's older create/update/delete too).
  std::string action;
  /// data.id: the work item (required).
  std::string work_item_id;
  /// data.project: the Plane project.
  std::string project_id;
  std::string name;
  int64_t sequence_id = 0;
  std::string state_name;
  std::string state_group;
  std::vector<std::string> labels;
  std::string description;
  std::string updated_at;
  std::string activity_field;
  std::string activity_new_value;
  /// Who caused the event (activity.actor.id, else data.updated_by).
  std::string actor_id;

  /// The key a retry shares with its original: Plane sends a fresh
  /// delivery id on every retry, so intake de-duplicates on this too.
  std::string dedup_key() const;
};

/// Parses and reads a Plane body.
caf::expected<plane_event>
parse_plane_event(std::string_view body, size_t max_depth = default_json_depth);

/// A GitHub CI or pull request delivery, normalised.
struct ci_event {
  /// status, check_run, check_suite, workflow_run, pull_request, ping.
  std::string kind;
  std::string action;
  /// repository.full_name (owner/name).
  std::string repo;
  std::string sha;
  /// Branch candidates named by the payload, in the order they are tried.
  std::vector<std::string> branches;
  /// success, failure or pending; "" for events that carry no CI result.
  std::string result;
  /// The check (check run or workflow name, status context), GitHub's
  /// own conclusion (or state) and the page to look at: what a developer
  /// fixing a failure is told.
  std::string check_name;
  std::string conclusion;
  std::string url;
};

/// A full commit id: 40 lower-case hex digits.
bool is_commit_sha(std::string_view x);

/// GitHub's event kinds orchd acts on; others are recorded and ignored.
bool is_ci_event_kind(std::string_view kind);

/// Parses and reads a GitHub body of `kind` (the X-GitHub-Event header).
caf::expected<ci_event>
parse_github_event(std::string_view kind, std::string_view body,
                   size_t max_depth = default_json_depth);

} // namespace orchd
