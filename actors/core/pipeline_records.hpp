// The pipeline's records: a transition's actions as the stage machine
// decides them (actors/logic/pipeline.hpp), what applying them did, and a
// task's pipeline state as storage keeps it. Included by records.hpp.
#pragma once

#include "actors/core/states.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orchd {

/// One action of a pipeline transition (actors/logic/pipeline.hpp decides
/// them; the storage actor applies a transition's actions in one write).
struct stage_action {
  enum kind_t : uint8_t {
    /// Stage `stage` (clears the stuck flag and the wait).
    set_stage,
    /// Enqueue a job of `agent` whose task content gets `text` appended.
    enqueue,
    /// Requeue job `job_id` due in `delay_s`, no attempt spent.
    defer_job,
    /// Job `job_id`'s success is a fault (`text`): its attempts rule.
    job_fault,
    stamp_brd_start,
    stamp_brd_end,
    /// The task now waits for `wait`.
    set_waiting,
    /// The sha (`text`) whose CI result the task waits for.
    record_sha,
    count_ci_failure,
    count_review_round,
    /// Plane: the work item to the project's state named by `text`
    /// (review, done).
    plane_state,
    /// Plane: a comment (`text`).
    plane_comment,
    /// Freeze the task's repo for reason `text`.
    freeze_repo,
    /// Stop the task's running agents, fail its queued jobs ("cancelled").
    cancel_jobs,
    /// Mark the task stuck with reason `text` (stage kept).
    mark_stuck,
  } kind;
  task_stage stage = task_stage::unknown;
  std::string agent = {};
  std::string text = {};
  int64_t job_id = 0;
  int64_t delay_s = 0;
  task_wait wait = task_wait::nothing;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_action& x) {
  return f(caf::meta::type_name("orchd::stage_action"), x.kind, x.stage,
           x.agent, x.text, x.job_id, x.delay_s, x.wait);
}

/// What applying a transition did.
struct applied_transition {
  /// False: the task had left the stage the transition was decided in.
  bool applied = false;
  /// The jobs it enqueued.
  std::vector<int64_t> enqueued;
  /// Running jobs of the task whose agents must be stopped (cancel).
  std::vector<int64_t> to_stop;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, applied_transition& x) {
  return f(caf::meta::type_name("orchd::applied_transition"), x.applied,
           x.enqueued, x.to_stop);
}

/// A task's pipeline state (schema level 15 columns), with its row and
/// its stage changes: what the pipeline decides from.
struct task_pipeline {
  task_wait waiting = task_wait::nothing;
  std::string expected_sha;
  int64_t ci_failures = 0;
  int64_t review_rounds = 0;
  std::string stuck_reason;
  /// "from>to@at" per stage change, oldest first.
  std::vector<std::string> history;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_pipeline& x) {
  return f(caf::meta::type_name("orchd::task_pipeline"), x.waiting,
           x.expected_sha, x.ci_failures, x.review_rounds, x.stuck_reason,
           x.history);
}

} // namespace orchd
