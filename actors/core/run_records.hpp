// Agent runs' records: a run's start, what it used, how it ended, and the
// runner's report. Included by records.hpp.
#pragma once

#include "actors/core/records.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>

namespace orchd {

// -- agent runs -------------------------------------------------------------

/// The start of one agent process.
struct new_run {
  caf::optional<int64_t> task_id;
  std::string agent;
  std::string output_path;
  std::string model;
  std::string effort;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_run& x) {
  return f(caf::meta::type_name("orchd::new_run"), x.task_id, x.agent,
           x.output_path, x.model, x.effort);
}

/// The start of a job's run: the run row is made, its output path set to
/// `<output_dir>/<run id>.log` and the job (still running) points at it, in
/// one transaction, before the agent process exists.
struct run_start {
  int64_t job_id = 0;
  new_run run;
  std::string output_dir;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_start& x) {
  return f(caf::meta::type_name("orchd::run_start"), x.job_id, x.run,
           x.output_dir);
}

/// What a run used, as the agent's result reported it (each absent when the
/// result did not say): the `agent_runs` token and cost columns.
struct run_usage {
  caf::optional<int64_t> input_tokens;
  caf::optional<int64_t> output_tokens;
  caf::optional<int64_t> cache_read_tokens;
  caf::optional<int64_t> cache_creation_tokens;
  caf::optional<double> cost_usd;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_usage& x) {
  return f(caf::meta::type_name("orchd::run_usage"), x.input_tokens,
           x.output_tokens, x.cache_read_tokens, x.cache_creation_tokens,
           x.cost_usd);
}

/// How an agent process ended, with what its result reported. The model is
/// written only when non-empty (the one resolved at start stays otherwise).
/// `outcome` is the classification (none when not classified).
struct run_outcome {
  int64_t run_id = 0;
  int64_t exit_code = 0;
  run_usage usage;
  std::string model;
  caf::optional<run_kind> outcome;
  std::string error;
  int64_t retry_after_s = 0;
  /// The verdict its result text states (approved, deployed, ...), if any.
  std::string verdict = {};
  /// The cost was computed from the price table (the agent reported none).
  bool cost_computed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_outcome& x) {
  return f(caf::meta::type_name("orchd::run_outcome"), x.run_id, x.exit_code,
           x.usage, x.model, x.outcome, x.error, x.retry_after_s, x.verdict,
           x.cost_computed);
}

/// One row of `agent_runs`.
struct run_row {
  int64_t id = 0;
  caf::optional<int64_t> task_id;
  std::string agent;
  std::string started_at;
  std::string finished_at;
  caf::optional<int64_t> exit_code;
  std::string output_path;
  run_usage usage;
  std::string model;
  std::string effort;
  caf::optional<int64_t> job_id;
  caf::optional<run_kind> outcome;
  std::string error;
  int64_t retry_after_s = 0;
  std::string verdict = {};
  /// The task's stage when the run began ("" for runs before orchd kept it).
  std::string stage = {};
  /// Its cost came from the price table, not the agent's report.
  bool cost_computed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_row& x) {
  return f(caf::meta::type_name("orchd::run_row"), x.id, x.task_id, x.agent,
           x.started_at, x.finished_at, x.exit_code, x.output_path, x.usage,
           x.model, x.effort, x.job_id, x.outcome, x.error, x.retry_after_s,
           x.verdict, x.stage, x.cost_computed);
}

/// How an agent process ended (the child watcher's report to its runner).
/// `exit_code` is negative for a signal (-9: SIGKILL).
struct process_exit {
  int64_t pid = 0;
  int64_t exit_code = 0;
  /// The last `stdout_keep_bytes` of stdout.
  std::string stdout_tail;
  int64_t log_bytes = 0;
  int64_t dropped_bytes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, process_exit& x) {
  return f(caf::meta::type_name("orchd::process_exit"), x.pid, x.exit_code,
           x.stdout_tail, x.log_bytes, x.dropped_bytes);
}

/// A runner's report to the scheduler when its job's run is over: the
/// run (0 when none was started) and its classification.
struct run_report {
  int64_t job_id = 0;
  int64_t run_id = 0;
  run_kind outcome = run_kind::crash;
  std::string error;
  int64_t retry_after_s = 0;
  /// A success's result text (its last line may state a verdict).
  std::string result_text = {};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_report& x) {
  return f(caf::meta::type_name("orchd::run_report"), x.job_id, x.run_id,
           x.outcome, x.error, x.retry_after_s, x.result_text);
}

} // namespace orchd
