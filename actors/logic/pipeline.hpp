// The pipeline's pure half (issue 12): the stage machine, `(task, domain
// event) -> actions`, and the parsers of what agents and work items say
// (verdicts, Depends-On lines). No actor, no clock, no I/O: the pipeline
// actor applies the actions in one storage write and queues the Plane
// calls they name.
//
//   created -> analysis -> (human gate) -> architecture -> development
//     -> ci -> review -> deploy -> verification -> done;  cancelled
//
// A stage's agent: analysis analyst, architecture architect, development
// developer, review reviewer, deploy deployer, verification verifier.
#pragma once

#include "actors/core/records.hpp"
#include "actors/core/states.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace orchd::pipeline {

// -- what agents and work items say ------------------------------------------

/// A stage's result beyond success, stated by the agent in the last line
/// of its result text: `VERDICT: <word>`.
enum class verdict : uint8_t {
  /// No verdict line.
  none,
  approved,
  changes_requested,
  deployed,
  merge_lock_busy,
  healthy,
  degraded,
  /// A verdict line with a word orchd does not know.
  unknown,
};

const char* to_string(verdict x);

/// The verdict of a result text: its last non-blank line, when that line is
/// `VERDICT: <word>` (any case, surrounding whitespace ignored).
verdict parse_verdict(std::string_view result_text);

/// The work item ids a description names on `Depends-On:` lines (any case;
/// several ids on one line separated by commas or spaces), upper-cased,
/// each once, in order.
std::vector<std::string> parse_depends_on(std::string_view description);

// -- the task as the machine sees it ------------------------------------------

/// What a task waits for (stored as `tasks.waiting`).
using waiting = task_wait;

struct task_view {
  task_stage stage = task_stage::created;
  waiting waits_for = waiting::nothing;
  /// The branch head whose CI result the task waits for.
  std::string expected_sha;
  /// CI failures and changes-requested reviews so far (each bounded).
  int64_t ci_failures = 0;
  int64_t review_rounds = 0;
  bool stuck = false;
  /// For messages: ET-042, and the BRD's path on the branch.
  std::string work_item_id;
  std::string brd_path;
};

struct limits {
  /// Fix rounds after failed CI; the failure after the last one: stuck.
  int64_t ci_fix_limit = 3;
  /// Fix rounds after changes-requested reviews; the next one: stuck.
  int64_t review_fix_limit = 3;
  /// A deployer that found the merge lock taken runs again after this.
  int64_t merge_defer_s = 300;
};

// -- domain events ------------------------------------------------------------

/// The task's worktree and folder exist.
struct worktree_made {};

/// A job of the task ended with success (before it is finalised: the
/// machine may still call it a fault).
struct job_succeeded {
  int64_t job_id = 0;
  std::string agent;
  /// The last line of its result text, parsed.
  verdict says = verdict::none;
  /// Analyst: the BRD file exists in the worktree.
  bool brd_present = false;
  /// Developer: the branch head after its run (`git rev-parse`).
  std::string head_sha;
  /// Reviewer: its result text (handed to the developer on changes).
  std::string result_text;
};

/// A job of the task failed for good (its attempts are spent).
struct job_failed {
  int64_t job_id = 0;
  std::string agent;
  std::string reason;
};

/// The work item moved to another state in Plane, classified with the
/// project's state names.
struct work_item_moved {
  enum class to_t : uint8_t { approved, rework, cancelled, other } to;
  /// Rework: the reviewer's latest Plane comment.
  std::string latest_comment;
};

/// A CI result for a commit of the task's branch.
struct ci_result {
  std::string sha;
  /// success, failure or pending.
  std::string result;
  std::string check_name;
  std::string conclusion;
  std::string url;
};

/// The reconciler found the task with no queued or running job for longer
/// than its stage's (or its wait's) grace.
struct idle_past_grace {
  int64_t idle_s = 0;
  /// Times its stage's job was run again so far, and the bound.
  int64_t reconciles = 0;
  int64_t max_retries = 2;
};

using event = std::variant<worktree_made, job_succeeded, job_failed,
                           work_item_moved, ci_result, idle_past_grace>;

/// The grace key of a task for the reconciler: its wait ("human_review",
/// "ci") when it waits, else its stage's name.
std::string grace_key(task_stage stage, waiting w);

/// Classifies a work item's new state: the project's approval and rework
/// state names, or Plane's `cancelled` group.
work_item_moved::to_t classify_state(std::string_view name,
                                     std::string_view group,
                                     std::string_view approved_name,
                                     std::string_view rework_name);

// -- actions ------------------------------------------------------------------

/// One action of a transition (a vocabulary type: storage applies them).
using action = stage_action;

const char* to_string(action::kind_t x);

/// What an event does to a task: the actions to apply in one write, and a
/// line for the log. `stale`: the event no longer applies (the task moved
/// on, a second approval, a result for another sha) and changes nothing.
struct transition {
  std::vector<action> actions;
  std::string log;
  bool stale = false;
};

/// The stage machine.
transition next(const task_view& task, const event& ev, const limits& lim);

/// The agent of a stage ("" for a stage without one).
const char* agent_of(task_stage stage);

} // namespace orchd::pipeline
