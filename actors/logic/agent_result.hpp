// The agent contract's pure half (DESIGN.md §5): what an agent's stdout
// says, how a run is classified, how long a transient failure backs off,
// and what finalising a job writes. No actor, no clock, no I/O: the runner,
// the scheduler and the reaper all decide through these functions.
#pragma once

#include "actors/core/records.hpp"
#include "actors/core/states.hpp"

#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace orchd {

/// Claude Code's `--output-format json` result, as far as orchd reads it.
struct agent_result {
  /// False when stdout held no result object (a crash, or noise only).
  bool parsed = false;
  std::string subtype;
  bool is_error = false;
  int64_t api_error_status = 0;
  /// `result`, or the joined `errors` when there is no result text.
  std::string text;
  run_usage usage;
  /// `model`, else the `modelUsage` entry with the most output tokens.
  std::string model;
  /// A server hint, in seconds from now: `retry_after` (seconds), or the
  /// reset time of a usage-limit message ("...limit reached|<epoch>").
  int64_t retry_after_s = 0;
};

/// Reads the result from an agent's stdout: the whole text as one JSON
/// value, else the last line that is one (output before the result is
/// noise). An array counts by its last element whose `type` is "result".
/// `now_s` (Unix seconds) turns a reset time into a delay.
agent_result parse_agent_result(std::string_view stdout_text, int64_t now_s);

/// A run's classification: the kind, the error kept on the job, and the
/// Retry-After floor for a transient one.
struct run_verdict {
  run_kind kind = run_kind::crash;
  std::string error;
  int64_t retry_after_s = 0;
};

/// Classifies a finished process from its result and exit. The exit code
/// alone decides nothing: success needs the result to say so; no result is
/// a crash whatever the code. `exit_code` is negative for a signal.
run_verdict classify_run(const agent_result& result, int64_t exit_code);

/// Backoff of a transient failure: min(2^attempt × base, cap) seconds,
/// where `attempt` counts this failure (the first is 2^1); a server's hint
/// is a floor (even above the cap: retrying before a usage limit resets is
/// a sure failure), itself bounded to one day.
int64_t transient_delay_s(int64_t attempt, int64_t base_s, int64_t cap_s,
                          int64_t hint_s);

/// How a job is tried again: the transient backoff, and how many
/// interruptions by orchd's own restarts it survives.
struct retry_policy {
  int64_t base_s = 10;
  int64_t cap_s = 600;
  int64_t max_interruptions = 3;
  /// Transient failures (rate limits, overload) a job survives; the last
  /// one fails it with the reason.
  int64_t max_transient_attempts = 20;
};

/// What finalising a run writes: a guarded status change, a guarded
/// transient requeue, or a guarded interruption requeue. Each is guarded on
/// (running, this run), so a finaliser that lost the race changes nothing.
struct finalise_plan {
  std::variant<job_mark, transient_requeue, interruption> write;

  bool is_transient() const {
    return std::holds_alternative<transient_requeue>(write);
  }
  bool is_interruption() const {
    return std::holds_alternative<interruption>(write);
  }
  /// A status change to done: a success.
  bool is_done() const {
    auto* m = std::get_if<job_mark>(&write);
    return m && m->status == job_status::done;
  }
  /// The interruption requeue (a plan that is one).
  interruption& interrupted() { return std::get<interruption>(write); }
  const interruption& interrupted() const {
    return std::get<interruption>(write);
  }
  /// The status change (a plan that is not transient).
  job_mark& mark() { return std::get<job_mark>(write); }
  const job_mark& mark() const { return std::get<job_mark>(write); }
  /// The transient requeue (a plan that is transient).
  transient_requeue& requeue() { return std::get<transient_requeue>(write); }
  const transient_requeue& requeue() const {
    return std::get<transient_requeue>(write);
  }
};

/// Success -> done; transient -> requeue with backoff (failed once the
/// policy's max_transient_attempts are spent); fault, crash and
/// timeout -> queued again while attempts < max_attempts, else failed;
/// cancelled -> failed; shutdown -> an interruption (the daemon's doing,
/// not the agent's: the attempt is given back, and the policy's
/// max_interruptions-th fails the job).
finalise_plan plan_finalise(const job_row& job, int64_t run_id,
                            const run_verdict& verdict,
                            const retry_policy& backoff);

/// What finalising a job from its run's recorded end writes (the reaper's
/// second tier, and restart recovery): the run's recorded outcome, or for
/// a run the Python system made, its exit code (0: done).
finalise_plan plan_from_run(const running_job& job,
                            const retry_policy& backoff);

} // namespace orchd
