// What the front door's actors (intake, admin API) exchange with callers
// that are not actors, the HTTP sessions: the delivery as received, the
// typed results, and reply_to<T>, which carries an answer back.
#pragma once

#include "actors/core/records.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace orchd {

/// A webhook as the HTTP layer received it: raw body and the headers intake
/// needs, before any check.
struct webhook_delivery {
  /// "plane" or "github".
  std::string source;
  /// X-Plane-Event / X-GitHub-Event.
  std::string event_type;
  /// X-Plane-Delivery / X-GitHub-Delivery.
  std::string delivery_id;
  /// X-Plane-Signature / X-Hub-Signature-256.
  std::string signature;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, webhook_delivery& x) {
  return f(caf::meta::type_name("orchd::webhook_delivery"), x.source,
           x.event_type, x.delivery_id, x.signature, x.body);
}

/// What intake did with a delivery it accepted. A refused one is an error
/// instead (ec::bad_signature, ec::malformed_payload, ec::storage_failed).
struct webhook_receipt {
  /// The event row; 0 for a duplicate.
  int64_t event_id = 0;
  /// The delivery was recorded before.
  bool duplicate = false;
  /// Non-empty: recorded but not acted on, and why.
  std::string ignored_because;
};

/// The daemon's health as intake sees it: storage answered.
struct health_report {
  int64_t running_jobs = 0;
};

/// The operator's view of the queue: counts, every running job, the newest
/// jobs.
struct queue_summary {
  job_counts counts;
  std::vector<job_row> running;
  std::vector<job_row> recent;
  /// Queued jobs a budget holds, and accounts held by a usage limit.
  std::vector<job_row> held = {};
  std::vector<account_hold> accounts = {};
};

/// A consistent copy of the live database, made while the daemon serves.
struct backup_result {
  std::string path;
  int64_t pages = 0;
  int64_t bytes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backup_result& x) {
  return f(caf::meta::type_name("orchd::backup_result"), x.path, x.pages,
           x.bytes);
}

/// One long-lived actor as the inspector sees it (GET /actors).
struct actor_status {
  std::string name;
  /// "ok", "timeout" (no answer in time), "error" (its status failed,
  /// e.g. storage did not answer it) or "down" (it quit: `last_error` says
  /// why).
  std::string health = "ok";
  /// Messages waiting in its mailbox when it answered.
  int64_t mailbox = 0;
  /// Messages it has handled since it started.
  int64_t handled = 0;
  /// Its last warning or error line (unix seconds; 0 none) and its text.
  int64_t last_error_at = 0;
  std::string last_error = {};
  /// Its own summary: a JSON object (text), "{}" when it keeps none.
  std::string state = "{}";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_status& x) {
  return f(caf::meta::type_name("orchd::actor_status"), x.name, x.health,
           x.mailbox, x.handled, x.last_error_at, x.last_error, x.state);
}

/// A slice of a job's agent output (`orchd console log JOB --follow`).
struct job_output {
  int64_t job_id = 0;
  /// The bytes from `offset` (at most 1 MiB), and where the next read
  /// starts.
  int64_t offset = 0;
  int64_t next_offset = 0;
  std::string bytes = {};
  /// The job has finished: nothing more will be written.
  bool finished = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_output& x) {
  return f(caf::meta::type_name("orchd::job_output"), x.job_id, x.offset,
           x.next_offset, x.bytes, x.finished);
}

/// One sample of a gauge read from the database (GET /metrics): family
/// name, its labels already in exposition form (`stage="review"`), value.
struct metric_sample {
  std::string name;
  std::string labels = {};
  double value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metric_sample& x) {
  return f(caf::meta::type_name("orchd::metric_sample"), x.name, x.labels,
           x.value);
}

/// Carries an actor's typed answer to a caller that is not an actor (an
/// HTTP session): the caller's own function, which may run on any thread
/// and posts onto the caller's executor. Local only: it never crosses
/// machines. The actor never learns how the answer is shown.
template <class T>
struct reply_to {
  std::function<void(caf::expected<T>)> deliver;
};

} // namespace orchd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::webhook_receipt>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::health_report>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::task_row>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::task_detail>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::job_row>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::queue_summary>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<bool>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::backup_result>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<int64_t>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<std::vector<orchd::active_task>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<std::vector<orchd::freeze_row>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::actor_status>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<std::vector<orchd::actor_status>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<std::string>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<std::vector<orchd::job_row>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::job_output>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orchd::reply_to<orchd::cost_report>)
