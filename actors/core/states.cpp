#include "actors/core/states.hpp"

namespace orchd {

namespace {

// Finds the value whose text is `text` among `values`.
template <class Enum, size_t N>
caf::optional<Enum> find_named(const Enum (&values)[N], std::string_view text) {
  for (auto x : values)
    if (text == to_string(x))
      return x;
  return caf::none;
}

constexpr run_kind all_run_kinds[] = {
    run_kind::success, run_kind::transient, run_kind::fault,   run_kind::crash,
    run_kind::timeout, run_kind::cancelled, run_kind::shutdown};

constexpr task_stage all_known_stages[] = {
    task_stage::created,      task_stage::setup_failed,
    task_stage::analysis,     task_stage::architecture,
    task_stage::development,  task_stage::ci,
    task_stage::review,       task_stage::deploy,
    task_stage::verification, task_stage::done,
    task_stage::cancelled};

} // namespace

const char* to_string(job_status x) {
  switch (x) {
  case job_status::queued:
    return "queued";
  case job_status::running:
    return "running";
  case job_status::done:
    return "done";
  case job_status::failed:
    return "failed";
  }
  return "failed";
}

caf::optional<job_status> parse_job_status(std::string_view text) {
  return find_named(all_job_statuses, text);
}

const char* to_string(run_kind x) {
  switch (x) {
  case run_kind::success:
    return "success";
  case run_kind::transient:
    return "transient";
  case run_kind::fault:
    return "fault";
  case run_kind::crash:
    return "crash";
  case run_kind::timeout:
    return "timeout";
  case run_kind::cancelled:
    return "cancelled";
  case run_kind::shutdown:
    return "shutdown";
  }
  return "crash";
}

caf::optional<run_kind> parse_run_kind(std::string_view text) {
  return find_named(all_run_kinds, text);
}

const char* to_string(task_stage x) {
  switch (x) {
  case task_stage::created:
    return "created";
  case task_stage::setup_failed:
    return "setup_failed";
  case task_stage::analysis:
    return "analysis";
  case task_stage::architecture:
    return "architecture";
  case task_stage::development:
    return "development";
  case task_stage::ci:
    return "ci";
  case task_stage::review:
    return "review";
  case task_stage::deploy:
    return "deploy";
  case task_stage::verification:
    return "verification";
  case task_stage::done:
    return "done";
  case task_stage::cancelled:
    return "cancelled";
  case task_stage::unknown:
    return "unknown";
  }
  return "unknown";
}

task_stage parse_task_stage(std::string_view text) {
  return find_named(all_known_stages, text).value_or(task_stage::unknown);
}

const char* to_string(task_wait x) {
  switch (x) {
  case task_wait::nothing:
    return "";
  case task_wait::human_review:
    return "human_review";
  case task_wait::ci:
    return "ci";
  }
  return "";
}

task_wait parse_task_wait(std::string_view text) {
  for (auto x : {task_wait::human_review, task_wait::ci})
    if (text == to_string(x))
      return x;
  return task_wait::nothing;
}

} // namespace orchd
