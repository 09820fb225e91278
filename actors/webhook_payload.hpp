// What intake reads from a webhook body: pure functions over parsed JSON,
// tested without an actor system. Missing required fields are errors that
// name the field (HTTP 400).
#pragma once

#include <caf/expected.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orchd {

/// True when no array or object in `text` nests deeper than `limit` (a
/// linear scan, run before the parser so a hostile body cannot exhaust the
/// stack).
bool json_depth_within(std::string_view text, size_t limit);

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

/// Reads a Plane body; `ec::invalid_argument` names a missing field.
caf::expected<plane_event> parse_plane_event(const nlohmann::json& body);

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
};

/// GitHub's event kinds orchd acts on; others are recorded and ignored.
bool is_ci_event_kind(std::string_view kind);

/// Reads a GitHub body of `kind` (the X-GitHub-Event header).
caf::expected<ci_event> parse_github_event(const std::string& kind,
                                           const nlohmann::json& body);

} // namespace orchd
