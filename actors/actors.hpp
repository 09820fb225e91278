// Every typed actor interface of orchd. A reader learns the whole system's
// messages from this one file; each later actor adds its interface here.
#pragma once

#include "actors/records.hpp"
#include "actors/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orchd {

/// STORAGE: the only owner of the SQLite connection. Every write joins the
/// open group-commit batch and is answered only after that batch commits;
/// a failed commit answers every request of the batch with
/// ec::storage_failed (HTTP: 503). Reads that arrive while a batch is open
/// are answered after it too, so nobody sees a row that may roll back.
using storage_actor = caf::typed_actor<
    // -- tasks --
    // The task with this id, or ec::no_such_task.
    caf::replies_to<atom::get, atom::task, int64_t>::with<task_row>,
    // The task whose plane_id or plane_issue_id is this plane id.
    caf::replies_to<atom::find, atom::task, std::string>::with<task_row>,
    // The task of (repo, branch).
    caf::replies_to<atom::find, atom::task, std::string,
                    std::string>::with<task_row>,
    // Tasks not done, with seconds since their last stage change.
    caf::replies_to<atom::list, atom::active>::with<std::vector<active_task>>,
    // Tasks of (repo, stage), oldest first.
    caf::replies_to<atom::list, atom::task, std::string,
                    std::string>::with<std::vector<task_row>>,
    // Creates the task unless one exists for the plane id: (row, created).
    caf::replies_to<atom::create, new_task>::with<task_claim>,
    // Sets (task id, stage), stamping updated_at; false for an unknown task.
    caf::replies_to<atom::set, atom::stage, int64_t, std::string>::with<bool>,
    // -- work item ids --
    // The next PREFIX-NNN of (repo, prefix).
    caf::replies_to<atom::next, atom::item, std::string,
                    std::string>::with<std::string>,
    // (repo, candidate) walked forward past ids already used, width kept.
    caf::replies_to<atom::unique, atom::item, std::string,
                    std::string>::with<std::string>,
    // -- tracker cards and BRD review --
    // The task's current card id, if any.
    caf::replies_to<atom::get, atom::card,
                    int64_t>::with<caf::optional<int64_t>>,
    // Sets (task, message) as the current card; false for an unknown task.
    caf::replies_to<atom::set, atom::card, int64_t, int64_t>::with<bool>,
    // Adds (task, message) to the ledger; true iff new.
    caf::replies_to<atom::add, atom::card, int64_t, int64_t>::with<bool>,
    // The task's cards not yet deleted, oldest first.
    caf::replies_to<atom::list, atom::card,
                    int64_t>::with<std::vector<int64_t>>,
    // Marks (task, message) deleted; true iff it was open.
    caf::replies_to<atom::del, atom::card, int64_t, int64_t>::with<bool>,
    // Stamps the task's BRD review start (first time only).
    caf::replies_to<atom::start, atom::brd, int64_t>::with<bool>,
    // Stamps the task's BRD review end (once, only after a start).
    caf::replies_to<atom::finish, atom::brd, int64_t>::with<bool>,
    // -- events --
    // Records a webhook delivery, de-duplicated on its delivery id.
    caf::replies_to<atom::add, event_record>::with<event_ack>,
    // Marks an event handled; false if unknown or already handled.
    caf::replies_to<atom::mark, atom::event, int64_t>::with<bool>,
    // Events of a source recorded by orchd and not yet handled, oldest
    // first.
    caf::replies_to<atom::unfinished, atom::event,
                    std::string>::with<std::vector<stored_event>>,
    // Creates a work item's task (id, branch) and its analyst job in one
    // transaction, unless the plane id has a task: (row, created).
    caf::replies_to<atom::create, work_item_request>::with<task_claim>,
    // The first task of the repo on any of these branches, in order.
    caf::replies_to<atom::find, atom::task, std::string,
                    std::vector<std::string>>::with<task_row>,
    // Records what a CI event resolved to and marks it handled.
    caf::replies_to<atom::set, ci_outcome>::with<bool>,
    // -- jobs --
    // Enqueues a job; answers its id.
    caf::replies_to<atom::enqueue, new_job>::with<int64_t>,
    // Claims the oldest runnable job, or ec::no_claimable_job.
    caf::replies_to<atom::claim, claim_options>::with<job_row>,
    // Requeues after a transient failure; false for an unknown job.
    caf::replies_to<atom::requeue, transient_requeue>::with<bool>,
    // Sets a job's status; false for an unknown job.
    caf::replies_to<atom::mark, job_mark>::with<bool>,
    // Sets a job's status only while it is running; true iff this call won.
    caf::replies_to<atom::reap, job_mark>::with<bool>,
    // Whether the task has a job queued or running.
    caf::replies_to<atom::active, atom::job, int64_t>::with<bool>,
    // The number of running jobs.
    caf::replies_to<atom::count, atom::running>::with<int64_t>,
    // Requeues every running job (start-up); answers how many.
    caf::replies_to<atom::requeue, atom::running>::with<int64_t>,
    // Running jobs with their ages and their run's exit, for the reaper.
    caf::replies_to<atom::list, atom::running>::with<std::vector<running_job>>,
    // The job with this id, or ec::no_such_job.
    caf::replies_to<atom::get, atom::job, int64_t>::with<job_row>,
    // Job counts by status.
    caf::replies_to<atom::count, atom::job>::with<job_counts>,
    // The newest N jobs, newest first.
    caf::replies_to<atom::list, atom::job, int64_t>::with<std::vector<job_row>>,
    // -- agent runs --
    // Records an agent process start; answers the run id.
    caf::replies_to<atom::start, new_run>::with<int64_t>,
    // Records how a run ended; false for an unknown run.
    caf::replies_to<atom::finish, run_outcome>::with<bool>,
    // The run with this id, or ec::no_such_run.
    caf::replies_to<atom::get, atom::run, int64_t>::with<run_row>,
    // -- dependencies --
    // Adds "task waits for other"; self-edges refused; true iff new.
    caf::replies_to<atom::add, atom::dep, int64_t, int64_t>::with<bool>,
    // The task's edges.
    caf::replies_to<atom::list, atom::dep,
                    int64_t>::with<std::vector<dep_edge>>,
    // Every edge.
    caf::replies_to<atom::list, atom::dep>::with<std::vector<dep_edge>>,
    // The tasks this task waits for that are not done.
    caf::replies_to<atom::unfinished, atom::dep,
                    int64_t>::with<std::vector<int64_t>>,
    // -- repo freezes --
    // Freezes (repo, reason, work item); answers the journal row id.
    caf::replies_to<atom::freeze, std::string, std::string,
                    std::string>::with<int64_t>,
    // Clears the repo's active freezes; answers how many.
    caf::replies_to<atom::unfreeze, std::string>::with<int64_t>,
    // The active freezes.
    caf::replies_to<atom::list, atom::freeze>::with<std::vector<freeze_row>>,
    // -- the actor itself --
    // Counters since start.
    caf::replies_to<atom::stats>::with<storage_stats>,
    // Commits the open batch and closes the database; the actor then quits.
    caf::replies_to<atom::shutdown>::with<bool>,
    // Internal: commits the open batch (the actor sends it to itself).
    caf::reacts_to<atom::flush>>;

/// INTAKE: the front door for webhooks. Verifies the signature on the raw
/// body, parses it, records it through STORAGE, and answers the HTTP
/// session only after the event row is durable.
using intake_actor = caf::typed_actor<
    // Handles one delivery; answers 200 (new, or duplicate), 202 (recorded,
    // not acted on), 400, 401 or 503 through the callback.
    caf::reacts_to<atom::webhook, webhook_delivery, reply_callback>,
    // Answers 200 when storage answers, else 503.
    caf::reacts_to<atom::health, reply_callback>>;

/// CI_EVENTS: maps recorded GitHub CI events to tasks (payload branches,
/// then `git branch -r --contains <sha>` in the project's clone, then the
/// repo's only task in development) and keeps the normalised result on the
/// event for the pipeline.
using ci_events_actor = caf::typed_actor<
    // Handles the recorded GitHub event (id, kind, payload).
    caf::reacts_to<atom::handle, int64_t, std::string, std::string>>;

/// ADMIN_API: the operator's inspection routes, answered as JSON through
/// the HTTP session's callback (200, 404 for a missing row, 503).
using admin_api_actor = caf::typed_actor<
    // GET /tasks/{id}.
    caf::reacts_to<atom::get, atom::task, int64_t, reply_callback>,
    // GET /tasks: every task not done, with its age.
    caf::reacts_to<atom::list, atom::task, reply_callback>,
    // GET /jobs/{id}.
    caf::reacts_to<atom::get, atom::job, int64_t, reply_callback>,
    // GET /queue: job counts by status, running and recent jobs.
    caf::reacts_to<atom::count, atom::job, reply_callback>>;

/// TASK_CREATOR: turns recorded Plane events into tasks, one at a time (it
/// replaces the Python process lock). Creates at most one task per work
/// item, makes its worktree and task folder, and marks the event handled.
using task_creator_actor = caf::typed_actor<
    // Handles the recorded Plane event (id, payload).
    caf::reacts_to<atom::handle, int64_t, std::string>>;

} // namespace orchd
