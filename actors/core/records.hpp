// The rows and requests that travel between actors: plain, serialisable
// structs (so a runner can later live on another machine), each with a CAF
// 0.17 `inspect`. Text columns that are NULL in the database read as "".
#pragma once

#include "actors/core/states.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orchd {

// -- tasks ------------------------------------------------------------------

/// One row of `tasks`.
struct task_row {
  int64_t id = 0;
  std::string plane_id;
  std::string work_item_id;
  std::string repo;
  std::string branch;
  task_stage stage = task_stage::created;
  std::string agent_running;
  std::string created_at;
  std::string updated_at;
  std::string plane_issue_id;
  caf::optional<int64_t> tracker_message_id;
  std::string title;
  std::string brd_review_started_at;
  std::string brd_review_ended_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_row& x) {
  return f(caf::meta::type_name("orchd::task_row"), x.id, x.plane_id,
           x.work_item_id, x.repo, x.branch, x.stage, x.agent_running,
           x.created_at, x.updated_at, x.plane_issue_id, x.tracker_message_id,
           x.title, x.brd_review_started_at, x.brd_review_ended_at);
}

/// A task that is not done, with the seconds since its last stage change.
struct active_task {
  task_row task;
  int64_t age_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, active_task& x) {
  return f(caf::meta::type_name("orchd::active_task"), x.task, x.age_s);
}

/// What the task creator knows of a work item before its task exists.
struct new_task {
  std::string plane_id;
  std::string work_item_id;
  std::string repo;
  std::string branch;
  std::string title;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_task& x) {
  return f(caf::meta::type_name("orchd::new_task"), x.plane_id, x.work_item_id,
           x.repo, x.branch, x.title);
}

/// The answer of create-if-absent: the row, and whether this call made it.
/// Only the creator does the follow-up work (branch, worktree, first job).
struct task_claim {
  task_row task;
  bool created = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_claim& x) {
  return f(caf::meta::type_name("orchd::task_claim"), x.task, x.created);
}

// -- events -----------------------------------------------------------------

/// A webhook delivery to record. An empty `delivery_id` is stored as NULL
/// (never de-duplicated).
struct event_record {
  std::string source;
  std::string event_type;
  std::string payload;
  std::string delivery_id;
  /// Recorded as already handled (an event that is not acted on).
  bool processed = false;
  /// A second unique key ("" for none): GitHub events are also keyed by
  /// their kind and body, so a replay under a new delivery id is a
  /// duplicate.
  std::string body_key = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_record& x) {
  return f(caf::meta::type_name("orchd::event_record"), x.source, x.event_type,
           x.payload, x.delivery_id, x.processed, x.body_key);
}

/// A GitHub CI result whose payload names its branches, recorded with its
/// event: the write maps it to the task on one of the branches and keeps
/// the event as handled. No branches: nothing to map in the write.
struct ci_mapping {
  std::string repo;
  std::vector<std::string> branches;
  std::string result;
};

/// A CI result that decides something for its task (success or failure;
/// pending and none do not).
inline bool decides(const std::string& ci_result) {
  return ci_result == "success" || ci_result == "failure";
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ci_mapping& x) {
  return f(caf::meta::type_name("orchd::ci_mapping"), x.repo, x.branches,
           x.result);
}

/// A recorded event with its row id.
struct stored_event {
  int64_t id = 0;
  event_record record;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_event& x) {
  return f(caf::meta::type_name("orchd::stored_event"), x.id, x.record);
}

/// What a CI event was resolved to: the task (none when unresolved or
/// ambiguous), the branch, and the result. Recording it marks the event
/// handled.
struct ci_outcome {
  int64_t event_id = 0;
  caf::optional<int64_t> task_id;
  std::string branch;
  std::string result;
  /// The commit CI ran on, and what the pipeline hands a developer after
  /// a failure (not stored: the event's payload keeps them).
  std::string sha = {};
  std::string check_name = {};
  std::string conclusion = {};
  std::string url = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ci_outcome& x) {
  return f(caf::meta::type_name("orchd::ci_outcome"), x.event_id, x.task_id,
           x.branch, x.result, x.sha, x.check_name, x.conclusion, x.url);
}

/// Everything needed to create a work item's task and its first job in one
/// transaction.
struct work_item_request {
  std::string plane_id;
  std::string repo;
  std::string prefix;
  /// Plane's sequence id; 0 or `sequential` numbering: the repo's next id.
  int64_t sequence_id = 0;
  bool sequential = false;
  std::string branch_prefix;
  std::string title_slug;
  std::string title;
  /// The first job: its agent (the project's first stage), task content
  /// and attempts.
  std::string first_agent = "analyst";
  std::string first_content;
  int64_t first_max_attempts = 2;
  /// Work item ids its description names on `Depends-On:` lines: the task
  /// waits until each one's task is done (one without a task yet, until it
  /// has one and that is done).
  std::vector<std::string> depends_on = {};
  /// The task's budget in USD: its `Budget: $N` line, else the project's
  /// default (none: no budget).
  caf::optional<double> budget_usd = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_item_request& x) {
  return f(caf::meta::type_name("orchd::work_item_request"), x.plane_id, x.repo,
           x.prefix, x.sequence_id, x.sequential, x.branch_prefix, x.title_slug,
           x.title, x.first_agent, x.first_content, x.first_max_attempts,
           x.depends_on, x.budget_usd);
}

/// The answer of an event insert: the row id (0 for a duplicate) and
/// whether the delivery was new.
struct event_ack {
  int64_t id = 0;
  bool created = false;
  /// For a CI result mapped in the write: its task, if one matched.
  caf::optional<int64_t> task_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_ack& x) {
  return f(caf::meta::type_name("orchd::event_ack"), x.id, x.created,
           x.task_id);
}

// -- jobs -------------------------------------------------------------------

/// One row of `jobs`.
struct job_row {
  int64_t id = 0;
  std::string agent;
  std::string repo;
  caf::optional<int64_t> task_id;
  std::string task_content;
  job_status status = job_status::queued;
  int64_t attempts = 0;
  int64_t max_attempts = 0;
  caf::optional<int64_t> run_id;
  std::string error;
  std::string created_at;
  std::string started_at;
  std::string finished_at;
  int64_t transient_attempts = 0;
  std::string available_at;
  caf::optional<int64_t> pid;
  /// Times orchd's own restarts interrupted it (not the agent's fault).
  int64_t interruptions = 0;
  /// Why a queued job is held by a budget ("" when it is not), and until
  /// when (a daily budget's next midnight; "" until released by hand).
  std::string held = {};
  std::string held_until = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_row& x) {
  return f(caf::meta::type_name("orchd::job_row"), x.id, x.agent, x.repo,
           x.task_id, x.task_content, x.status, x.attempts, x.max_attempts,
           x.run_id, x.error, x.created_at, x.started_at, x.finished_at,
           x.transient_attempts, x.available_at, x.pid, x.interruptions, x.held,
           x.held_until);
}

/// A job to enqueue; `delay_s > 0` holds it back that long (`available_at`).
struct new_job {
  std::string agent;
  std::string repo;
  caf::optional<int64_t> task_id;
  std::string task_content;
  int64_t max_attempts = 2;
  int64_t delay_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_job& x) {
  return f(caf::meta::type_name("orchd::new_job"), x.agent, x.repo, x.task_id,
           x.task_content, x.max_attempts, x.delay_s);
}

/// How to claim: the dependency gate can be switched off; jobs of
/// `excluded_repos` (projects at their own concurrency cap) are skipped;
/// jobs of `serial_gate_agents` wait at the per-repo serial gate.
/// A project's budgets, as the claim checks them (0: none).
struct project_budget {
  std::string repo;
  /// A task's budget when the task has none of its own (older tasks).
  double budget_usd = 0;
  double daily_budget_usd = 0;
  /// The project's time zone, as seconds east of UTC (its day's midnight).
  int64_t utc_offset_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, project_budget& x) {
  return f(caf::meta::type_name("orchd::project_budget"), x.repo, x.budget_usd,
           x.daily_budget_usd, x.utc_offset_s);
}

struct claim_options {
  bool dependency_gate = true;
  std::vector<std::string> excluded_repos;
  std::vector<std::string> serial_gate_agents = {"analyst"};
  /// Agents whose account is held (a usage limit until its reset).
  std::vector<std::string> held_agents = {};
  /// Checked before a job of a task is claimed; a job over budget is held.
  std::vector<project_budget> budgets = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim_options& x) {
  return f(caf::meta::type_name("orchd::claim_options"), x.dependency_gate,
           x.excluded_repos, x.serial_gate_agents, x.held_agents, x.budgets);
}

/// A status change of one job. done/failed stamp `finished_at`; queued
/// clears `started_at` and `finished_at`. `run_id` and `error` are written
/// only when present.
///
/// `expected_run_id` (reap only) narrows the guard to "still running this
/// run": a finaliser that lost to a requeue and a new claim of the same job
/// changes nothing.
struct job_mark {
  int64_t job_id = 0;
  job_status status = job_status::queued;
  caf::optional<int64_t> run_id;
  caf::optional<std::string> error;
  caf::optional<int64_t> expected_run_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_mark& x) {
  return f(caf::meta::type_name("orchd::job_mark"), x.job_id, x.status,
           x.run_id, x.error, x.expected_run_id);
}

/// Puts a job back after a transient failure (rate limit, overload):
/// counted in `transient_attempts`, available again after `delay_s`.
/// With `expected_run_id`, only while the job is still running that run,
/// or (0) still running at all: the guarded forms finalisers use.
struct transient_requeue {
  int64_t job_id = 0;
  int64_t delay_s = 0;
  caf::optional<std::string> error;
  caf::optional<int64_t> expected_run_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transient_requeue& x) {
  return f(caf::meta::type_name("orchd::transient_requeue"), x.job_id,
           x.delay_s, x.error, x.expected_run_id);
}

/// Puts back a job that orchd itself interrupted (a restart, a drain that
/// ran out): the claim's attempt is given back, and `interruptions` counts
/// one more; the `max_interruptions`-th fails the job with `final_error`
/// instead. Guarded on (running, `expected_run_id` when set).
struct interruption {
  int64_t job_id = 0;
  caf::optional<int64_t> expected_run_id;
  int64_t max_interruptions = 3;
  std::string error;
  std::string final_error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, interruption& x) {
  return f(caf::meta::type_name("orchd::interruption"), x.job_id,
           x.expected_run_id, x.max_interruptions, x.error, x.final_error);
}

/// The pid of a job's agent, stamped while the job still runs `run_id`.
struct job_pid {
  int64_t job_id = 0;
  int64_t run_id = 0;
  int64_t pid = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_pid& x) {
  return f(caf::meta::type_name("orchd::job_pid"), x.job_id, x.run_id, x.pid);
}

/// A running job as the reaper sees it, with its run's exit (if any).
/// The run's classified outcome (none for a run the Python system made)
/// lets the reaper finalise the job exactly as its runner would have.
struct running_job {
  job_row job;
  int64_t running_age_s = 0;
  caf::optional<int64_t> exit_code;
  std::string run_finished_at;
  caf::optional<int64_t> finished_age_s;
  caf::optional<run_kind> run_outcome;
  std::string run_error;
  int64_t run_retry_after_s = 0;
  /// Where the run's output went (its log file), empty without a run.
  std::string run_output_path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, running_job& x) {
  return f(caf::meta::type_name("orchd::running_job"), x.job, x.running_age_s,
           x.exit_code, x.run_finished_at, x.finished_age_s, x.run_outcome,
           x.run_error, x.run_retry_after_s, x.run_output_path);
}

/// Job counts; the four legacy statuses are always reported.
struct job_counts {
  int64_t queued = 0;
  int64_t running = 0;
  int64_t done = 0;
  int64_t failed = 0;
  /// Of the queued, those held back until their `available_at`.
  int64_t held = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_counts& x) {
  return f(caf::meta::type_name("orchd::job_counts"), x.queued, x.running,
           x.done, x.failed, x.held);
}

// -- dependencies and freezes -----------------------------------------------

/// "task_id is blocked by depends_on_task_id".
struct dep_edge {
  int64_t task_id = 0;
  int64_t depends_on_task_id = 0;
  std::string created_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, dep_edge& x) {
  return f(caf::meta::type_name("orchd::dep_edge"), x.task_id,
           x.depends_on_task_id, x.created_at);
}

/// One row of the append-only `repo_freeze` journal.
struct freeze_row {
  int64_t id = 0;
  std::string repo;
  std::string frozen_at;
  std::string reason;
  std::string work_item_id;
  std::string cleared_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, freeze_row& x) {
  return f(caf::meta::type_name("orchd::freeze_row"), x.id, x.repo, x.frozen_at,
           x.reason, x.work_item_id, x.cleared_at);
}

} // namespace orchd

namespace orchd {

/// What the storage actor has done since it started (for the inspector).
struct storage_stats {
  /// Transactions committed (each one fsync with synchronous=FULL).
  int64_t commits = 0;
  /// Transactions that failed to commit and were rolled back.
  int64_t failed_commits = 0;
  /// Write requests acknowledged after a commit.
  int64_t writes = 0;
  /// Read requests answered.
  int64_t reads = 0;
  /// Largest number of requests one commit answered.
  int64_t largest_batch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, storage_stats& x) {
  return f(caf::meta::type_name("orchd::storage_stats"), x.commits,
           x.failed_commits, x.writes, x.reads, x.largest_batch);
}

} // namespace orchd

// Costs and agent runs (task_detail uses task_budget and run_row).
#include "actors/core/cost_records.hpp" // IWYU pragma: export
#include "actors/core/run_records.hpp"  // IWYU pragma: export

// The pipeline's records (they use task_row).
#include "actors/core/pipeline_records.hpp" // IWYU pragma: export

// The tracker's records (they use task_detail).
#include "actors/core/tracker_records.hpp" // IWYU pragma: export
