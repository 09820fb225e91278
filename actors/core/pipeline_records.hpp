// The pipeline's records: a transition's actions as the stage machine
// decides them (actors/logic/pipeline.hpp), what applying them did, and a
// task's pipeline state as storage keeps it. Included by records.hpp.
#pragma once

#include "actors/core/records.hpp"
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
    /// Job `job_id`'s success is accepted: done, guarded on its run
    /// (`run_id`, 0: running at all); the whole write fails if it lost.
    finish_job,
    /// The reconciler ran the stage's job again (counted, bounded).
    count_reconcile,
  } kind;
  task_stage stage = task_stage::unknown;
  std::string agent = {};
  std::string text = {};
  int64_t job_id = 0;
  int64_t delay_s = 0;
  task_wait wait = task_wait::nothing;
  /// finish_job, defer_job: the run the job must still be running.
  int64_t run_id = 0;
  /// enqueue: the agent's attempts (0: the queue's default).
  int64_t max_attempts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stage_action& x) {
  return f(caf::meta::type_name("orchd::stage_action"), x.kind, x.stage,
           x.agent, x.text, x.job_id, x.delay_s, x.wait, x.run_id,
           x.max_attempts);
}

/// What the pipeline makes of a job's success before it is finalised.
struct judgement {
  enum kind_t : uint8_t {
    /// Finalise it done with `actions` (a finish_job first) in one write,
    /// guarded on the task still being in `from`.
    accept,
    /// Its success is a fault (`reason`): the job's attempts rule.
    fault,
    /// Write `actions` (a defer_job): back in the queue, no attempt spent.
    defer,
    /// The pipeline has nothing to add (not a pipeline job, or the task
    /// moved on): finalise it done as any job.
    plain,
  } kind = plain;
  task_stage from = task_stage::unknown;
  std::vector<stage_action> actions;
  std::string reason;
  /// For the log: the task, its work item, and what the transition does.
  int64_t task_id = 0;
  std::string work_item_id;
  std::string log;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, judgement& x) {
  return f(caf::meta::type_name("orchd::judgement"), x.kind, x.from, x.actions,
           x.reason, x.task_id, x.work_item_id, x.log);
}

/// A Plane work item that moved to another state (from its webhook).
struct work_item_move {
  std::string plane_id;
  std::string state_name;
  std::string state_group;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, work_item_move& x) {
  return f(caf::meta::type_name("orchd::work_item_move"), x.plane_id,
           x.state_name, x.state_group);
}

/// A Plane call a transition queued (a `plane_outbox` row), with the work
/// item it is for.
struct plane_call {
  int64_t id = 0;
  int64_t task_id = 0;
  /// "state" (body: the state's role, review or done) or "comment" (body:
  /// the comment's text).
  std::string kind;
  std::string body;
  /// Unique per (task, call): a retried comment is recognisable.
  std::string external_id;
  int64_t attempts = 0;
  /// The work item (Plane's id) and its task's repo (the project).
  std::string plane_id;
  std::string repo;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, plane_call& x) {
  return f(caf::meta::type_name("orchd::plane_call"), x.id, x.task_id, x.kind,
           x.body, x.external_id, x.attempts, x.plane_id, x.repo);
}

/// How a Plane call went.
struct plane_call_result {
  int64_t id = 0;
  enum outcome_t : uint8_t {
    sent,
    /// Try again after `retry_in_s` (network, 5xx, 429).
    retry,
    /// Plane refused it for good (4xx): kept with the error, not retried.
    given_up,
  } outcome = sent;
  std::string error;
  int64_t retry_in_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, plane_call_result& x) {
  return f(caf::meta::type_name("orchd::plane_call_result"), x.id, x.outcome,
           x.error, x.retry_in_s);
}

/// A task in an unfinished stage with no queued or running job, as the
/// reconciler sees it.
struct idle_task {
  task_row task;
  /// Seconds since its last change (stage, wait).
  int64_t age_s = 0;
  task_wait waiting = task_wait::nothing;
  bool stuck = false;
  /// Times the reconciler ran its stage's job again.
  int64_t reconciles = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, idle_task& x) {
  return f(caf::meta::type_name("orchd::idle_task"), x.task, x.age_s, x.waiting,
           x.stuck, x.reconciles);
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

/// Everything GET /tasks/{id} shows of a task: its row, its pipeline
/// state, its runs, the last CI result and the human's review time.
struct task_detail {
  task_row task;
  task_pipeline pipeline;
  std::vector<run_row> runs;
  std::string last_ci_result;
  /// Seconds between the BRD review's start and end stamps.
  caf::optional<int64_t> human_review_s;
  /// Its jobs, oldest first; the tasks it waits for and those waiting for
  /// it (job_deps); its cards the tracker's ledger holds open.
  std::vector<job_row> jobs = {};
  std::vector<int64_t> depends_on = {};
  std::vector<int64_t> dependents = {};
  std::vector<int64_t> open_cards = {};
  /// Its budget, what it spent, and its cost by stage.
  task_budget budget = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_detail& x) {
  return f(caf::meta::type_name("orchd::task_detail"), x.task, x.pipeline,
           x.runs, x.last_ci_result, x.human_review_s, x.jobs, x.depends_on,
           x.dependents, x.open_cards, x.budget);
}

} // namespace orchd
