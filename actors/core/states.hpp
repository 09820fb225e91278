// The domain's states as enums: a job's status, how a run ended, a task's
// stage. Actors and logic use these; storage alone reads and writes the
// legacy text (`to_string` / `parse_*` here are the one mapping).
//
// CAF 0.17 serialises an enum by its underlying value and renders it with
// the `to_string` overload found by lookup, so no `inspect` is needed for
// them to travel in messages or show in logs.
#pragma once

#include <caf/optional.hpp>

#include <cstdint>
#include <string_view>

namespace orchd {

/// `jobs.status`.
enum class job_status : uint8_t {
  /// Waiting to be claimed (maybe held back by `available_at` or a gate).
  queued,
  /// Claimed; its agent runs (or is about to).
  running,
  /// Its agent succeeded.
  done,
  /// Out of attempts, cancelled, or not runnable.
  failed,
};

/// Every status, in the order counts report them.
inline constexpr job_status all_job_statuses[] = {
    job_status::queued, job_status::running, job_status::done,
    job_status::failed};

/// The legacy text, e.g. "queued".
const char* to_string(job_status x);

/// The status of a legacy text; none for anything else.
caf::optional<job_status> parse_job_status(std::string_view text);

/// How a run ended, as the scheduler acts on it (`agent_runs.outcome`).
enum class run_kind : uint8_t {
  /// subtype "success" and not is_error.
  success,
  /// Rate limit, overload, usage limit: back off, not a code-fault attempt.
  transient,
  /// A result that is an error (max turns, tool failure, ...).
  fault,
  /// No parseable result.
  crash,
  /// Killed at the agent's timeout.
  timeout,
  /// Killed by an operator's cancel.
  cancelled,
  /// Killed at the end of a shutdown drain, or left by a daemon that died.
  shutdown,
};

/// The stored name, e.g. "transient".
const char* to_string(run_kind x);

/// The kind of a stored name; none for "" (a run the Python system made,
/// or one not classified yet) and for anything else.
caf::optional<run_kind> parse_run_kind(std::string_view text);

/// `tasks.stage`: where a task is in the pipeline.
enum class task_stage : uint8_t {
  /// The task row exists; its worktree is being made.
  created,
  /// Making its branch or worktree failed.
  setup_failed,
  analysis,
  architecture,
  development,
  ci,
  review,
  deploy,
  verification,
  done,
  /// Stopped by an operator: finished, like done, for every gate.
  cancelled,
  /// A stage text orchd does not know (left by another system): shown as
  /// such, never written.
  unknown,
};

/// The legacy text, e.g. "development" ("unknown" for unknown).
const char* to_string(task_stage x);

/// The stage of a legacy text; `unknown` for anything else.
task_stage parse_task_stage(std::string_view text);

/// `tasks.waiting`: what a task waits for when its stage has no job
/// running.
enum class task_wait : uint8_t {
  /// NULL: a job of its stage runs, or is about to.
  nothing,
  /// The BRD is posted; a person approves it or asks for rework in Plane.
  human_review,
  /// The branch head is pushed; its CI result decides.
  ci,
};

/// The stored text ("" for nothing).
const char* to_string(task_wait x);

/// The wait of a stored text; nothing for "" and anything else.
task_wait parse_task_wait(std::string_view text);

} // namespace orchd
