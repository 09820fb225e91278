// Column lists and row readers shared by the store's .cpp files. The SQL
// text is built from string literals so each statement stays a literal
// (the prepared-statement cache keys on its address).
#pragma once

#include "actors/core/error.hpp"
#include "actors/core/records.hpp"
#include "storage/database.hpp"

#define ORCHD_TASK_COLUMNS                                                     \
  "id, plane_id, work_item_id, repo, branch, stage, agent_running, "           \
  "created_at, updated_at, plane_issue_id, tracker_message_id, title, "        \
  "brd_review_started_at, brd_review_ended_at"

#define ORCHD_JOB_COLUMNS                                                      \
  "id, agent, repo, task_id, task_content, status, attempts, max_attempts, "   \
  "run_id, error, created_at, started_at, finished_at, transient_attempts, "   \
  "available_at, pid, interruptions, held, held_until"

// The same, qualified with the alias `j` for joins.
#define ORCHD_JOB_COLUMNS_J                                                    \
  "j.id, j.agent, j.repo, j.task_id, j.task_content, j.status, j.attempts, "   \
  "j.max_attempts, j.run_id, j.error, j.created_at, j.started_at, "            \
  "j.finished_at, j.transient_attempts, j.available_at, j.pid, "               \
  "j.interruptions, j.held, j.held_until"

// A task is finished in these stages: every gate and list of unfinished
// tasks reads them from here.
#define ORCHD_FINISHED_STAGES "('done', 'cancelled')"

namespace orchd::storage {

/// A request the store refuses (ec::invalid_argument) with its reason.
inline caf::error invalid(std::string what) {
  return caf::make_error(ec::invalid_argument, std::move(what));
}

/// Number of columns ORCHD_JOB_COLUMNS reads.
inline constexpr int job_column_count = 19;

inline task_row read_task(const statement& s) {
  task_row x;
  x.id = s.int64(0);
  x.plane_id = s.text(1);
  x.work_item_id = s.text(2);
  x.repo = s.text(3);
  x.branch = s.text(4);
  x.stage = parse_task_stage(s.text(5));
  x.agent_running = s.text(6);
  x.created_at = s.text(7);
  x.updated_at = s.text(8);
  x.plane_issue_id = s.text(9);
  x.tracker_message_id = s.opt_int64(10);
  x.title = s.text(11);
  x.brd_review_started_at = s.text(12);
  x.brd_review_ended_at = s.text(13);
  return x;
}

inline job_row read_job(const statement& s) {
  job_row x;
  x.id = s.int64(0);
  x.agent = s.text(1);
  x.repo = s.text(2);
  x.task_id = s.opt_int64(3);
  x.task_content = s.text(4);
  // The legacy schema knows these four; a job in any other state is never
  // claimed (the claim reads 'queued'), so it shows as failed.
  x.status = parse_job_status(s.text(5)).value_or(job_status::failed);
  x.attempts = s.int64(6);
  x.max_attempts = s.int64(7);
  x.run_id = s.opt_int64(8);
  x.error = s.text(9);
  x.created_at = s.text(10);
  x.started_at = s.text(11);
  x.finished_at = s.text(12);
  x.transient_attempts = s.int64(13);
  x.available_at = s.text(14);
  x.pid = s.opt_int64(15);
  x.interruptions = s.int64(16);
  x.held = s.text(17);
  x.held_until = s.text(18);
  return x;
}

} // namespace orchd::storage
