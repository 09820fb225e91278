// Every typed actor interface of orchd. A reader learns the whole system's
// messages from this one file; each later actor adds its interface here.
#pragma once

#include "actors/core/replies.hpp"
#include "actors/core/type_ids.hpp"

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orchd {

/// What every long-lived actor answers the INSPECTOR: its mailbox, messages
/// handled, last warning or error and a summary of its own state
/// (actors/core/vitals.hpp).
using status_rpc = caf::replies_to<atom::status>::with<actor_status>;

// -- STORAGE, one interface per table, composed below -----------------------

/// Storage of `tasks`.
using task_storage = caf::typed_actor<
    // The task with this id, or ec::no_such_task.
    caf::replies_to<atom::task_by_id, int64_t>::with<task_row>,
    // Tasks not finished, with seconds since their last stage change.
    caf::replies_to<atom::open_tasks>::with<std::vector<active_task>>,
    // Tasks of (repo, stage), oldest first.
    caf::replies_to<atom::in_stage, std::string,
                    task_stage>::with<std::vector<task_row>>,
    // Sets (task id, stage), stamping updated_at; false for an unknown task.
    caf::replies_to<atom::set_stage, int64_t, task_stage>::with<bool>,
    // The operator's cancel: stage 'cancelled', queued jobs failed; answers
    // the task's running jobs. ec::no_such_task, ec::conflict (finished).
    caf::replies_to<atom::stop_task, int64_t>::with<std::vector<int64_t>>,
    // Creates a work item's task (id, branch) and its first job in one
    // transaction, unless the plane id has a task: (row, created).
    caf::replies_to<atom::make_task, work_item_request>::with<task_claim>,
    // The task's pipeline state (waits, sha, fix rounds, stuck reason,
    // stage history), or ec::no_such_task.
    caf::replies_to<atom::pipeline, int64_t>::with<task_pipeline>,
    // Applies one pipeline transition decided while the task was in the
    // given stage: all its actions in one write, or nothing (applied
    // false) if the task has left that stage.
    caf::replies_to<atom::transition, int64_t, task_stage,
                    std::vector<stage_action>>::with<applied_transition>,
    // The task of a Plane work item (its id), or ec::no_such_task.
    caf::replies_to<atom::by_plane, std::string>::with<task_row>,
    // The task and its pipeline columns only (what the pipeline decides
    // from), or ec::no_such_task.
    caf::replies_to<atom::view, int64_t>::with<task_detail>,
    // The task with its pipeline state, runs, last CI result and human
    // review time (GET /tasks/{id}), or ec::no_such_task.
    caf::replies_to<atom::detail, int64_t>::with<task_detail>,
    // Unfinished tasks with no queued or running job (the reconciler's).
    caf::replies_to<atom::idle>::with<std::vector<idle_task>>,
    // Plane calls due now (at most N, one per task: its oldest unsettled).
    caf::replies_to<atom::outbox, int64_t>::with<std::vector<plane_call>>,
    // Milliseconds until the earliest held-back Plane call comes due.
    caf::replies_to<atom::outbox>::with<caf::optional<int64_t>>,
    // Records how a Plane call went; false when already settled.
    caf::replies_to<atom::sent, plane_call_result>::with<bool>,
    // What the task's card shows, with the ledger's cards of it, or
    // ec::no_such_task.
    caf::replies_to<atom::card, int64_t>::with<card_facts>,
    // A card was sent: into the ledger and the task's current card, in one
    // write; ec::no_such_task.
    caf::replies_to<atom::card, int64_t, int64_t>::with<bool>,
    // A card is gone from the chat: marked deleted; false when it was not
    // open.
    caf::replies_to<atom::card_gone, int64_t, int64_t>::with<bool>,
    // Tasks whose card may be stale or doubled (true: also every unfinished
    // one, after a restart).
    caf::replies_to<atom::cards, bool>::with<std::vector<card_due>>,
    // Finished tasks (done or cancelled) unchanged for N days, oldest
    // first.
    caf::replies_to<atom::finished, int64_t>::with<std::vector<task_row>>,
    // The first task of the repo on any of these branches, in order.
    caf::replies_to<atom::on_branch, std::string,
                    std::vector<std::string>>::with<task_row>>;

/// Storage of `events`.
using event_storage = caf::typed_actor<
    // Records a webhook delivery, de-duplicated on its delivery id; a
    // GitHub CI result that names its branches (the mapping) is mapped to
    // its task in the same write.
    caf::replies_to<atom::record, event_record, ci_mapping>::with<event_ack>,
    // Marks an event handled; false if unknown or already handled.
    caf::replies_to<atom::handled, int64_t>::with<bool>,
    // Retention: empties the payloads of handled events recorded more than
    // N days ago (rows and keys stay); how many.
    caf::replies_to<atom::prune, int64_t>::with<int64_t>,
    // Events of a source recorded by orchd, not yet handled and recorded at
    // least N seconds ago (0: any), oldest first.
    caf::replies_to<atom::unhandled, std::string,
                    int64_t>::with<std::vector<stored_event>>,
    // Records what a CI event resolved to and marks it handled.
    caf::replies_to<atom::ci_result, ci_outcome>::with<bool>>;

/// Storage of `jobs`: the queue.
using job_storage = caf::typed_actor<
    // Enqueues a job; answers its id.
    caf::replies_to<atom::enqueue, new_job>::with<int64_t>,
    // Claims the oldest runnable job, or ec::no_claimable_job.
    caf::replies_to<atom::claim, claim_options>::with<job_row>,
    // Requeues after a transient failure (guarded like a finalise when the
    // requeue names its run); false when the guard lost.
    caf::replies_to<atom::backoff, transient_requeue>::with<bool>,
    // Sets a job's status, unguarded; false for an unknown job.
    caf::replies_to<atom::mark_job, job_mark>::with<bool>,
    // Sets a job's status only while it is running (and running the
    // mark's expected run): the guarded write of every finaliser; true iff
    // this call won.
    caf::replies_to<atom::finalise, job_mark>::with<bool>,
    // Puts back a job orchd itself interrupted, giving its attempt back,
    // or fails it at its last allowed interruption; guarded like finalise.
    caf::replies_to<atom::interrupt, interruption>::with<bool>,
    // The number of running jobs.
    caf::replies_to<atom::n_running>::with<int64_t>,
    // Running jobs with their ages and their run's exit.
    caf::replies_to<atom::running>::with<std::vector<running_job>>,
    // The job with this id, or ec::no_such_job.
    caf::replies_to<atom::job_by_id, int64_t>::with<job_row>,
    // Stamps a running job's agent pid (guarded on its run).
    caf::replies_to<atom::stamp_pid, job_pid>::with<bool>,
    // Cancels a queued or running job (failed, "cancelled"); ec::conflict
    // for a finished one.
    caf::replies_to<atom::cancel, int64_t>::with<bool>,
    // Puts a failed job back with fresh attempts; ec::conflict otherwise.
    caf::replies_to<atom::requeue, int64_t>::with<bool>,
    // Milliseconds until the earliest held-back job comes due, if any.
    caf::replies_to<atom::next_due>::with<caf::optional<int64_t>>,
    // Job counts by status.
    caf::replies_to<atom::job_counts>::with<job_counts>,
    // The newest N jobs, newest first.
    caf::replies_to<atom::recent, int64_t>::with<std::vector<job_row>>,
    // The newest N jobs of a status, newest first.
    caf::replies_to<atom::recent, int64_t,
                    job_status>::with<std::vector<job_row>>,
    // Queued jobs a budget holds, oldest first.
    caf::replies_to<atom::holds>::with<std::vector<job_row>>>;

/// Storage of `agent_runs`.
using run_storage = caf::typed_actor<
    // Starts a running job's run (row, output path, job's run_id); answers
    // the run id, or ec::conflict when the job no longer runs.
    caf::replies_to<atom::begin_run, run_start>::with<int64_t>,
    // Records how a run ended; false for an unknown run.
    caf::replies_to<atom::finish_run, run_outcome>::with<bool>,
    // A run's output file path; ec::no_such_run, ec::io_failed (none).
    caf::replies_to<atom::output, int64_t>::with<std::string>,
    // The cost ledger (GET /costs); ec::invalid_argument for a bad query.
    caf::replies_to<atom::costs, cost_query>::with<cost_report>,
    // Sets a task's budget and releases its held jobs; how many.
    caf::replies_to<atom::budget, budget_change>::with<int64_t>>;

/// Storage of the gates: `job_deps` and the `repo_freeze` journal.
using gate_storage = caf::typed_actor<
    // The operator's "task waits for other": both tasks must exist; a
    // self-edge or a cycle is ec::dependency_cycle naming it; true iff new.
    caf::replies_to<atom::add_dep, int64_t, int64_t>::with<bool>,
    // Freezes (repo, reason, work item); answers the journal row id.
    caf::replies_to<atom::freeze, std::string, std::string,
                    std::string>::with<int64_t>,
    // Clears the repo's active freezes; answers how many.
    caf::replies_to<atom::unfreeze, std::string>::with<int64_t>,
    // The active freezes.
    caf::replies_to<atom::freezes>::with<std::vector<freeze_row>>>;

/// STORAGE: the only owner of the SQLite connection. Every write joins the
/// open group-commit batch and is answered only after that batch commits;
/// a failed commit answers every request of the batch with
/// ec::storage_failed (HTTP: 503). Reads that arrive while a batch is open
/// are answered after it too, so nobody sees a row that may roll back.
/// Each handler is named after its operation; the tables' interfaces above
/// grow with the features that need them.
using storage_actor = task_storage::extend_with<
    event_storage, job_storage, run_storage, gate_storage,
    caf::typed_actor<
        status_rpc,
        // Counters since start.
        caf::replies_to<atom::stats>::with<storage_stats>,
        // The database's gauges of GET /metrics.
        caf::replies_to<atom::metrics>::with<std::vector<metric_sample>>,
        // A consistent copy of the live database into a new file at this
        // absolute path (SQLite's online backup, a few pages a message, so
        // requests keep being served); ec::invalid_argument (not absolute,
        // no such folder), ec::conflict (the file exists, or a backup
        // runs), ec::io_failed.
        caf::replies_to<atom::backup, std::string>::with<backup_result>,
        // Internal: the running backup's next pages.
        caf::reacts_to<atom::backup>,
        // Commits the open batch and closes the database; the actor then
        // quits.
        caf::replies_to<atom::shutdown>::with<bool>,
        // Internal: commits the open batch (the actor sends it to itself).
        caf::reacts_to<atom::flush>>>;

/// INTAKE: the front door for webhooks. Verifies the signature on the raw
/// body, parses it, records it through STORAGE, and answers only after the
/// event row is durable.
using intake_actor = caf::typed_actor<
    status_rpc,
    // Handles one delivery: a receipt (new, duplicate, or recorded but not
    // acted on), or ec::bad_signature, ec::malformed_payload, or a storage
    // error (retry).
    caf::reacts_to<atom::webhook, webhook_delivery, reply_to<webhook_receipt>>,
    // Storage answers: the number of running jobs; else its error.
    caf::reacts_to<atom::health, reply_to<health_report>>,
    // Routes the events recorded at least N seconds ago and still not
    // handled (0 at start-up: every one a dead daemon left); the periodic
    // sweep uses the grace, so an event whose routing was lost (storage
    // answered after the HTTP reply timed out) waits no longer than that.
    caf::reacts_to<atom::sweep, int64_t>,
    // Internal: the periodic sweep.
    caf::reacts_to<atom::tick>>;

/// CI_EVENTS: maps recorded GitHub CI events to tasks (payload branches,
/// then `git branch -r --contains <sha>` in the project's clone, then the
/// repo's only task in development) and keeps the normalised result on the
/// event for the pipeline.
using ci_events_actor = caf::typed_actor<
    status_rpc,
    // Handles the recorded GitHub event (id, kind, payload).
    caf::reacts_to<atom::handle, int64_t, std::string, std::string>>;

/// ADMIN_API: the operator's inspection routes and actions. Answers rows
/// or the error that says why not (ec::no_such_task, ec::no_such_job,
/// ec::not_frozen, ec::conflict, ec::dependency_cycle, a storage error).
using admin_api_actor = caf::typed_actor<
    status_rpc,
    // The task with this id.
    caf::reacts_to<atom::task_by_id, int64_t, reply_to<task_row>>,
    // The task with its pipeline state and runs.
    caf::reacts_to<atom::detail, int64_t, reply_to<task_detail>>,
    // Every task not finished, with its age.
    caf::reacts_to<atom::open_tasks, reply_to<std::vector<active_task>>>,
    // The job with this id.
    caf::reacts_to<atom::job_by_id, int64_t, reply_to<job_row>>,
    // Job counts by status, every running job, the newest jobs.
    caf::reacts_to<atom::queue, reply_to<queue_summary>>,
    // The newest N jobs (of one status when given), newest first.
    caf::reacts_to<atom::recent, int64_t, caf::optional<job_status>,
                   reply_to<std::vector<job_row>>>,
    // Cancels a queued or running job (its agent is stopped); the job after.
    caf::reacts_to<atom::cancel, int64_t, reply_to<job_row>>,
    // Puts a failed job back with fresh attempts; the job after.
    caf::reacts_to<atom::requeue, int64_t, reply_to<job_row>>,
    // Clears the repo's freeze; how many rows were cleared.
    caf::reacts_to<atom::unfreeze, std::string, reply_to<int64_t>>,
    // The active freezes.
    caf::reacts_to<atom::freezes, reply_to<std::vector<freeze_row>>>,
    // Adds "task waits for other" (both must exist, no cycle); true iff new.
    caf::reacts_to<atom::add_dep, int64_t, int64_t, reply_to<bool>>,
    // Makes a task's worktree again after its setup failed; the task after.
    caf::reacts_to<atom::setup, int64_t, reply_to<task_row>>,
    // Cancels a task: stage 'cancelled' (finished for every gate), its
    // queued jobs failed, its running agents stopped; the task after.
    caf::reacts_to<atom::stop_task, int64_t, reply_to<task_row>>,
    // A consistent copy of the live database at this absolute path.
    caf::reacts_to<atom::backup, std::string, reply_to<backup_result>>,
    // Every registered actor's status (GET /actors).
    caf::reacts_to<atom::status, reply_to<std::vector<actor_status>>>,
    // The cost ledger (GET /costs).
    caf::reacts_to<atom::costs, cost_query, reply_to<cost_report>>,
    // A task's new budget; its held jobs released (how many).
    caf::reacts_to<atom::budget, budget_change, reply_to<int64_t>>,
    // One actor's status (GET /actors/{name}); ec::no_such_actor.
    caf::reacts_to<atom::status, std::string, reply_to<actor_status>>,
    // The Prometheus text of GET /metrics.
    caf::reacts_to<atom::metrics, reply_to<std::string>>,
    // A job's agent output from a byte offset (at most 1 MiB): the bytes,
    // for `orchd console log`; ec::no_such_job, ec::no_such_run.
    caf::reacts_to<atom::output, int64_t, int64_t, reply_to<job_output>>>;

/// TASK_CREATOR: turns recorded Plane events into tasks, one at a time (it
/// replaces the Python process lock). Creates at most one task per work
/// item, makes its worktree and task folder, and marks the event handled.
using task_creator_actor = caf::typed_actor<
    status_rpc,
    // Handles the recorded Plane event (id, payload).
    caf::reacts_to<atom::handle, int64_t, std::string>,
    // Makes the worktree of a task whose setup failed again; answers the
    // task as it is after the try (stage created when it worked).
    caf::reacts_to<atom::setup, int64_t, reply_to<task_row>>,
    // Internal: the backoff of a failed setup is over; tries again.
    caf::reacts_to<atom::setup, int64_t>>;

/// RUNNER: one agent process of one claimed job. Starts the run (row,
/// output path, the job's run id), spawns the agent in its own process
/// group, stamps the pid before it acts on the exit, enforces the agent's
/// timeout, records how the run ended and reports it to the SCHEDULER,
/// then quits. Its protocol is plain serialisable messages, so a runner
/// can later live on another machine.
using runner_actor =
    caf::typed_actor<status_rpc,
                     // Stops the agent for a reason (timeout, cancelled,
                     // shutdown): SIGTERM to its process group, SIGKILL after
                     // the grace.
                     caf::reacts_to<atom::kill, run_kind>,
                     // Internal: the grace after SIGTERM is over.
                     caf::reacts_to<atom::kill>,
                     // Internal: the agent's time is up.
                     caf::reacts_to<atom::timeout>,
                     // Internal: the child watcher saw the process end.
                     caf::reacts_to<atom::exited, process_exit>>;

/// RETENTION: keeps the disk bounded for a daemon that runs for months.
/// Every interval (and once at start): empties the payloads of handled
/// events past their days (rows and keys stay), removes run logs and task
/// files past theirs, and removes the worktrees of tasks finished longer
/// ago than theirs (branches stay); each step that did something is
/// logged. A limit of 0 days keeps that kind for ever.
using retention_actor = caf::typed_actor<status_rpc,
                                         // Internal: the periodic sweep.
                                         caf::reacts_to<atom::tick>>;

/// SCHEDULER: the claim loop and the concurrency slots. Claims the moment
/// something changes (enqueue, a finished run, a dependency, an unfreeze,
/// the earliest `available_at` coming due), never polls; runs one RUNNER
/// per claimed job; finalises each run's outcome with a guarded write.
using scheduler_actor = caf::typed_actor<
    status_rpc,
    // Something changed: try to claim.
    caf::reacts_to<atom::wake>,
    // Enqueues a job and claims at once if a slot is free; answers its id.
    caf::replies_to<atom::enqueue, new_job>::with<int64_t>,
    // A runner's report: finalise the job.
    caf::reacts_to<atom::finish, run_report>,
    // The job ids whose agents this scheduler's runners own right now.
    caf::replies_to<atom::owned>::with<std::vector<int64_t>>,
    // Operator: fails a queued or running job with "cancelled" and kills
    // its agent; ec::no_such_job, ec::conflict (already finished).
    caf::replies_to<atom::cancel, int64_t>::with<bool>,
    // Operator: a failed job back to the queue; ec::conflict otherwise.
    caf::replies_to<atom::requeue, int64_t>::with<bool>,
    // Stops claiming; answers when no agent runs any more. Agents get
    // `seconds` to finish, then are killed and their jobs requeued.
    caf::replies_to<atom::drain, int64_t>::with<int64_t>,
    // Ends a drain now (a second signal).
    caf::reacts_to<atom::kill>,
    // Stops the agents of these jobs (storage already failed them: a
    // pipeline cancel); their reports then lose the guarded write.
    caf::reacts_to<atom::stop_jobs, std::vector<int64_t>>,
    // Internal: the held-back job of this generation came due.
    caf::reacts_to<atom::due, int64_t>,
    // A task's new budget: storage releases its held jobs (how many), then
    // a claim.
    caf::replies_to<atom::budget, budget_change>::with<int64_t>,
    // The accounts held until their usage limit resets.
    caf::replies_to<atom::holds>::with<std::vector<account_hold>>,
    // Internal: an account's hold (of this generation) is over.
    caf::reacts_to<atom::unhold, std::string, int64_t>>;

/// PIPELINE: moves tasks through their stages (actors/logic/pipeline.hpp
/// decides; storage applies each transition in one write). Judges a job's
/// success before the SCHEDULER finalises it, so the job's end and the
/// task's next stage commit together; takes the domain events of the
/// other actors (worktree made, work item moved, CI result, a job failed
/// for good); wakes the SCHEDULER for the jobs it enqueued and the Plane
/// outbox for the calls it queued.
using pipeline_actor = caf::typed_actor<
    status_rpc,
    // A task's job succeeded with this result text: how to finalise it.
    caf::replies_to<atom::judge, job_row, std::string>::with<judgement>,
    // The scheduler applied a judgement (what it did): log, wake, notify.
    caf::reacts_to<atom::applied, judgement, applied_transition>,
    // A task's job failed for good (the row as finalised): stuck.
    caf::reacts_to<atom::failed, job_row>,
    // The task's worktree exists: created -> analysis.
    caf::reacts_to<atom::worktree, int64_t>,
    // A work item moved in Plane; true when a transition was applied.
    caf::replies_to<atom::moved, work_item_move>::with<bool>,
    // A CI result mapped to its task; true when a transition was applied.
    caf::replies_to<atom::ci_result, ci_outcome>::with<bool>,
    // The reconciler found the task idle past its grace (with the bound of
    // reruns): its stage's job again, or stuck.
    caf::reacts_to<atom::idle, idle_task, int64_t>,
    // The scheduler to wake and stop agents through (spawned after us).
    caf::reacts_to<atom::attach, caf::actor>>;

/// PLANE_OUTBOX: sends the Plane calls transitions queued in the database
/// (state changes, comments), oldest first per task, at most the API key's
/// rate, retried with backoff; a Plane outage delays only the calls.
using plane_outbox_actor =
    caf::typed_actor<status_rpc,
                     // Calls were queued (or came due): send what is due.
                     caf::reacts_to<atom::wake>,
                     // Internal: the held-back call of this generation came
                     // due.
                     caf::reacts_to<atom::due, int64_t>>;

/// TRACKER: one live Telegram card per task in its project's chat, and
/// the only writer of the card ledger. Changes of a task within a short
/// window become one edit; a bump sends a new card, records it, then
/// deletes every card of the task the ledger still holds open, oldest
/// first. At most one call per second per chat and 30 in all; a Telegram
/// outage delays only the cards.
using tracker_actor = caf::typed_actor<
    status_rpc,
    // The task changed; with `bump` its card moves to the bottom of the
    // chat (human gate, stuck, frozen, done, cancelled).
    caf::reacts_to<atom::card, int64_t, bool>,
    // Internal: something is due.
    caf::reacts_to<atom::wake>,
    // Internal: the queue's next entry of this generation is due.
    caf::reacts_to<atom::due, int64_t>,
    // Internal: the periodic sweep (stale or doubled cards).
    caf::reacts_to<atom::tick>,
    // One sweep now (true: every unfinished task too); answers how many
    // tasks it queued.
    caf::replies_to<atom::sweep, bool>::with<int64_t>>;

/// RECONCILER: every interval, hands the PIPELINE each task idle (no job
/// queued or running) past its stage's or wait's grace, and sends work
/// items in a trigger state that have no task (their webhook was lost)
/// through the TASK_CREATOR, recorded as events like a webhook.
using reconciler_actor =
    caf::typed_actor<status_rpc,
                     // Internal: the periodic sweep.
                     caf::reacts_to<atom::tick>,
                     // One sweep now; answers how many tasks and work items it
                     // handed on.
                     caf::replies_to<atom::sweep>::with<int64_t>>;

/// REAPER: a periodic three-tier check of running jobs (agent gone and
/// unowned; exited but never finalised; older than the backstop). Every
/// flip is guarded on (running, this run).
using reaper_actor =
    caf::typed_actor<status_rpc,
                     // Internal: the periodic sweep.
                     caf::reacts_to<atom::tick>,
                     // One sweep now; answers how many jobs it flipped.
                     caf::replies_to<atom::reap>::with<int64_t>>;

/// FREEZE_MANAGER: owns the repo freeze journal (the only writer). A
/// frozen repo's new tasks wait at the serial gate until an operator
/// unfreezes it; unfreezing wakes the SCHEDULER.
using freeze_manager_actor = caf::typed_actor<
    status_rpc,
    // Freezes (repo, reason, work item); answers the journal row id.
    caf::replies_to<atom::freeze, std::string, std::string,
                    std::string>::with<int64_t>,
    // Clears the repo's freeze; answers how many rows were cleared, or
    // ec::not_frozen.
    caf::replies_to<atom::unfreeze, std::string>::with<int64_t>,
    // The active freezes.
    caf::replies_to<atom::freezes>::with<std::vector<freeze_row>>>;

/// INSPECTOR: the registry of long-lived actors (each registers under its
/// name; a runner under `runner/<job>` while it lives). Asks each for its
/// status with a timeout, so a slow actor shows as "timeout" and one that
/// quit as "down"; never hangs the caller.
using inspector_actor = caf::typed_actor<
    // Registers an actor under a name (monitored from now on).
    caf::reacts_to<atom::enroll, std::string, caf::actor>,
    // Every registered actor's status, in the order they registered.
    caf::replies_to<atom::status>::with<std::vector<actor_status>>,
    // One actor's status; ec::no_such_actor.
    caf::replies_to<atom::status, std::string>::with<actor_status>>;

/// SUPERVISOR: monitors every long-lived actor of the daemon. One that goes
/// down while the daemon is not stopping is logged with its reason, and the
/// daemon stops with a non-zero exit (systemd restarts it) rather than run
/// without it.
using supervisor_actor = caf::typed_actor<
    // The daemon is stopping: downs from now on are expected.
    caf::reacts_to<atom::shutdown>>;

} // namespace orchd
