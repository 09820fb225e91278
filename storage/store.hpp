// Every data operation of the Python orchestrator's data layer, with the
// same guarantees (shared/LEGACY.md), as plain methods over one database.
// The storage actor calls these inside its group-commit transaction; tests
// call them directly. Methods throw sql_error on a failed SQLite call and
// return errors for lookups that find nothing or arguments they refuse.
#pragma once

#include "actors/core/replies.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orchd::storage {

class database;

class store {
public:
  explicit store(database& db)
      : db_(db) {}

  // -- tasks ----------------------------------------------------------------

  caf::expected<task_row> task_by_id(int64_t id);
  /// Matches `plane_id` or `plane_issue_id`.
  caf::expected<task_row> task_by_plane_id(const std::string& plane_id);
  caf::expected<task_row> task_by_branch(const std::string& repo,
                                         const std::string& branch);
  /// Every task not finished (done or cancelled) and the seconds since
  /// `updated_at`.
  std::vector<active_task> active_tasks();
  /// Tasks of a repo in one stage (e.g. `development`), oldest first.
  std::vector<task_row> tasks_in_stage(const std::string& repo,
                                       task_stage stage);
  /// Finished tasks (done or cancelled) not changed for `days` days,
  /// oldest first.
  std::vector<task_row> finished_before(int64_t days);
  /// Looks up by plane id and inserts only when absent; both plane id
  /// columns get the id. Returns the row and whether this call made it.
  caf::expected<task_claim> create_task(const new_task& x);
  /// Sets the stage and stamps `updated_at`; false for an unknown task.
  caf::expected<bool> set_stage(int64_t task_id, task_stage stage);
  /// The task and its pipeline columns (no history, runs or CI): what the
  /// pipeline decides from, in one indexed read; ec::no_such_task.
  caf::expected<task_detail> task_with_pipeline(int64_t task_id);
  /// The task's pipeline columns and stage history; ec::no_such_task.
  caf::expected<task_pipeline> pipeline_state(int64_t task_id);
  /// Applies one pipeline transition's actions in order, if the task is
  /// still in stage `from` (else nothing is written: another transition
  /// won). finish_job and defer_job are guarded on the job's run and run
  /// first: when the job was finalised elsewhere nothing is written
  /// (ec::conflict). job_fault is the scheduler's (it
  /// finalises the job as a failure) and is skipped here. ec::no_such_task
  /// for an unknown task.
  caf::expected<applied_transition>
  apply_transition(int64_t task_id, task_stage from,
                   const std::vector<stage_action>& actions);
  /// A task's runs, oldest first.
  std::vector<run_row> runs_of_task(int64_t task_id);
  /// What GET /tasks/{id} shows; ec::no_such_task.
  caf::expected<task_detail> task_detail_of(int64_t task_id);
  /// Unfinished tasks with no queued or running job, with their age, wait,
  /// stuck flag and reconciles: what the reconciler looks at.
  std::vector<idle_task> idle_tasks();
  /// A new task's Depends-On work items: rows of work_item_deps, each
  /// resolved to an edge when its work item has a task; and the earlier
  /// tasks that named this one's work item get their edge now. A cycle
  /// leaves the edge out and queues a Plane comment on the task.
  caf::error link_work_item_deps(const task_row& task,
                                 const std::vector<std::string>& depends_on);
  /// Queues a Plane call of a task (kind "state" or "comment").
  void queue_plane_call(int64_t task_id, const char* kind,
                        const std::string& body);
  /// Plane calls due now, oldest first, at most one per task (its oldest
  /// unsettled one, so a task's calls land in order).
  std::vector<plane_call> due_plane_calls(int64_t limit);
  /// Milliseconds until the earliest held-back Plane call comes due.
  caf::optional<int64_t> next_plane_call_due_ms();
  /// Records how a call went; false when it was already settled.
  bool settle_plane_call(const plane_call_result& x);
  /// The operator's cancel: the task to 'cancelled', its queued jobs
  /// failed; answers its running jobs (their agents are the scheduler's to
  /// stop). ec::no_such_task, or ec::conflict for a finished task.
  caf::expected<std::vector<int64_t>> cancel_task(int64_t task_id);

  // -- work item ids --------------------------------------------------------

  /// The latest numeric `PREFIX-N` of the repo (by task id) plus one, three
  /// digits at least; PREFIX-001 when there is none.
  std::string next_work_item_id(const std::string& repo,
                                const std::string& prefix);
  /// Walks `PREFIX-N` forward while the repo already uses it, keeping N's
  /// width. A value without `-` or with a non-numeric tail is unchanged.
  std::string unique_work_item_id(const std::string& repo,
                                  const std::string& candidate);

  // -- tracker cards and BRD review -----------------------------------------

  /// The task's current card, none when it has no card yet.
  caf::expected<caf::optional<int64_t>> tracker_message(int64_t task_id);
  caf::expected<bool> set_tracker_message(int64_t task_id, int64_t message_id);
  /// Ledger insert; a repeated id changes nothing (and stays deleted).
  bool add_tracker_card(int64_t task_id, int64_t message_id);
  /// Cards not yet deleted, by message id ascending.
  std::vector<int64_t> open_tracker_cards(int64_t task_id);
  /// Marks a still-open card deleted; false when it was not open.
  bool mark_tracker_card_deleted(int64_t task_id, int64_t message_id);
  /// A sent card: in the ledger and the task's current card, together;
  /// ec::no_such_task.
  caf::expected<bool> record_tracker_card(int64_t task_id, int64_t message_id);
  /// What the task's card shows and the ledger's cards of it, or
  /// ec::no_such_task.
  caf::expected<card_facts> card_facts_of(int64_t task_id);
  /// Tasks whose card may be stale: finished ones changed after their card
  /// (bump), any with more than one open card, and with `everything` (after
  /// a restart) unfinished ones with a card or changed in the last day.
  std::vector<card_due> cards_due(bool everything);
  /// Stamps the BRD review start once; false when already started.
  bool start_brd_review(int64_t task_id);
  /// Stamps the end once, only after a start; false otherwise.
  bool end_brd_review(int64_t task_id);

  // -- events ---------------------------------------------------------------

  /// INSERT OR IGNORE keyed by delivery id; `created` iff a row was added.
  /// With `ci` branches the row also gets the task on one of them (if
  /// any), the branch and the result, and is recorded as handled.
  caf::expected<event_ack> add_event(const event_record& x,
                                     const ci_mapping& ci = {});
  /// Marks an event handled; false when unknown or already handled.
  bool mark_event_processed(int64_t id);
  /// Retention: empties the payloads of handled events recorded more than
  /// `days` days ago; the rows and their keys stay (a replay is still a
  /// duplicate). Answers how many were cleared.
  int64_t clear_old_payloads(int64_t days);
  /// Unhandled events of a source recorded since orchd took the file over
  /// (the Python system's leftovers are not replayed), oldest first.
  std::vector<stored_event> unprocessed_events(const std::string& source,
                                               int64_t older_than_s = 0);
  /// Creates the work item's task and enqueues its first job in one
  /// transaction; an existing task for the plane id is returned unchanged.
  caf::expected<task_claim> create_work_item(const work_item_request& x);
  /// The first task of the repo on one of `branches`, tried in order.
  caf::expected<task_row>
  task_on_branches(const std::string& repo,
                   const std::vector<std::string>& branches);
  /// Records a CI event's task, branch and result; marks it handled.
  bool record_ci_outcome(const ci_outcome& x);

  // -- jobs (store_jobs.cpp) ------------------------------------------------

  caf::expected<int64_t> enqueue(const new_job& x);
  /// Claims the oldest runnable queued job: due, past the dependency gate
  /// (when on) and the per-repo serial gate, of an agent whose account is
  /// not held, and within its task's budgets (the hold rule decides; a job
  /// over one is held, not claimed). `no_claimable_job` if none.
  caf::expected<job_row> claim_next_job(const claim_options& opts);
  /// Back to queued after a transient failure, counted separately.
  bool requeue_transient(const transient_requeue& x);
  caf::expected<bool> mark_job(const job_mark& x);
  /// Like mark_job, but only while the job is still running; true iff this
  /// call flipped it (a guarded compare-and-set).
  caf::expected<bool> finalise_job(const job_mark& x);
  /// Puts back (or, at its last allowed interruption, fails) a job orchd
  /// interrupted, giving the claim's attempt back; guarded like
  /// finalise_job.
  caf::expected<bool> requeue_interrupted(const interruption& x);
  /// Any job of the task queued or running.
  bool has_active_job(int64_t task_id);
  int64_t running_count();
  /// Every running job back to queued, `started_at` cleared, attempts kept.
  int64_t requeue_running();
  std::vector<running_job> running_jobs();
  caf::expected<job_row> job_by_id(int64_t id);
  /// Stamps the agent's pid while the job still runs that run.
  caf::expected<bool> stamp_pid(const job_pid& x);
  /// A queued or running job to failed, error "cancelled"; `conflict` for
  /// a job already finished.
  caf::expected<bool> cancel_job(int64_t job_id);
  /// A failed job back to queued with fresh attempts; `conflict` otherwise.
  caf::expected<bool> requeue_failed(int64_t job_id);
  /// Milliseconds until the earliest queued job held back by
  /// `available_at` comes due; none when no job is held back.
  caf::optional<int64_t> next_due_in_ms();
  job_counts count_jobs();
  /// The newest jobs (of one status when given), newest first.
  std::vector<job_row> recent_jobs(int64_t limit,
                                   caf::optional<job_status> status = {});
  /// A task's jobs, oldest first.
  std::vector<job_row> jobs_of_task(int64_t task_id);

  // -- costs and budgets (store_costs.cpp) ---------------------------------

  /// What decides a budget hold (none: jobs are never held for budget).
  void set_hold_rule(hold_rule rule) { hold_rule_ = std::move(rule); }
  /// The cost ledger grouped by `by`; invalid_argument for an unknown
  /// grouping or a malformed day.
  caf::expected<cost_report> costs(const cost_query& x);
  /// Queued jobs a budget holds, oldest first (at most 100).
  std::vector<job_row> held_jobs();
  /// A task's budget, spend, pause and cost by stage.
  /// `runs`: the task's runs, oldest first (runs_of_task).
  task_budget budget_of(int64_t task_id, const std::vector<run_row>& runs);
  /// Sets a task's budget, lifts its pause and releases its held jobs (the
  /// next claim checks them again); the number released.
  caf::expected<int64_t> set_budget(const budget_change& x);
  /// The job's hold when it may not be claimed now (its task over budget),
  /// written with the task's pause (logged and told to Plane once).
  caf::optional<job_hold> hold_if_over_budget(const job_row& job,
                                              const claim_options& opts);

  // -- observability (store_metrics.cpp) ----------------------------------

  /// The database's gauges for /metrics: unhandled events, tasks by stage,
  /// jobs by status, tokens and cost by project (repo) and agent.
  std::vector<metric_sample> metric_samples();
  /// A run's output file path; no_such_run, or io_failed when it has none.
  caf::expected<std::string> run_output_path(int64_t run_id);

  // -- agent runs -----------------------------------------------------------

  caf::expected<int64_t> start_run(const new_run& x);
  /// A running job's next run: the row, its output path and the job's
  /// `run_id` in one go; `conflict` when the job is no longer running.
  caf::expected<int64_t> begin_run(const run_start& x);
  caf::expected<bool> finish_run(const run_outcome& x);
  caf::expected<run_row> run_by_id(int64_t id);

  // -- dependencies (store_gates.cpp; reads never fail: a failure reads as
  // none) ------------------------------------------------------------------

  /// Refuses a self-edge; true iff the edge is new.
  caf::expected<bool> add_dependency(int64_t task_id,
                                     int64_t depends_on_task_id);
  /// The operator's form: both tasks must exist (`no_such_task`), and an
  /// edge that is a self-edge or closes a cycle is refused with
  /// `dependency_cycle`, naming the cycle. True iff the edge is new.
  caf::expected<bool> declare_dependency(int64_t task_id,
                                         int64_t depends_on_task_id);
  std::vector<dep_edge> dependencies_of(int64_t task_id);
  std::vector<dep_edge> all_dependencies();
  /// The tasks this one waits for that are not done.
  std::vector<int64_t> unfinished_dependencies(int64_t task_id);

  // -- repo freezes (store_gates.cpp) ---------------------------------------

  caf::expected<int64_t> freeze_repo(const std::string& repo,
                                     const std::string& reason,
                                     const std::string& work_item_id);
  /// Clears every active freeze of the repo; the number cleared.
  int64_t unfreeze_repo(const std::string& repo);
  std::vector<freeze_row> active_freezes();

private:
  /// A task's cancel, jobs half: its queued jobs failed ("cancelled with
  /// its task"); answers its running ones, whose agents must be stopped.
  std::vector<int64_t> stop_task_jobs(int64_t task_id);

  database& db_;
  hold_rule hold_rule_;
};

} // namespace orchd::storage
