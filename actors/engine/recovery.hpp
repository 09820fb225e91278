// Restart recovery: what a previous daemon left running is stopped and put
// back in the queue before this daemon claims anything.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/logic/agent_result.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace orchd {

/// What restart recovery did.
struct recovery_counts {
  /// Jobs put back in the queue (or failed at their last allowed
  /// interruption): their agent was cut off by the restart.
  int64_t requeued = 0;
  /// Jobs whose run had ended and recorded its outcome before the daemon
  /// died: finalised from that outcome, never run again.
  int64_t finalised = 0;
};

/// For every job left `running`: kills what is left of its agents' process
/// groups (found by ORCHD_INSTANCE and ORCHD_JOB_ID, so no unrelated
/// process that reused a pid is touched) and waits until they are gone;
/// an agent still alive at the job's recorded pid (one the Python
/// orchestrator started, at cutover) gets SIGTERM, then SIGKILL after the
/// grace, and is waited for.
/// A job whose run recorded its end is finalised from it; so is one whose
/// agent printed its result to the run's log before the daemon died (the
/// run is recorded from the log first); a task's success is judged by the
/// pipeline first, so its end and the task's next stage commit together;
/// any other has
/// its run recorded as ended by the restart and is put back as an
/// interruption (its attempt given back; the policy's max_interruptions-th
/// fails it). Blocks: call it before the scheduler starts.
struct recovery_settings {
  /// ORCHD_INSTANCE of the agents this database's daemons start.
  std::string instance;
  retry_policy policy;
  /// The configured agents' programs: a live process at a job's recorded
  /// pid named like one is its agent (the Python orchestrator's agents
  /// carry no ORCHD_INSTANCE).
  std::vector<std::string> agent_programs;
  /// Between SIGTERM and SIGKILL to such an agent.
  int64_t kill_grace_ms = 10000;
  std::chrono::seconds timeout{60};
  /// Judges a task's job that succeeded while no daemon watched, as the
  /// scheduler's would be (none: finalised done without a transition).
  pipeline_actor pipeline;
};

/// The result an agent printed to its run's log (the last 4 MiB), if
/// any: a run the daemon did not see end may still have finished.
caf::optional<agent_result> result_in_log(const running_job& r);

caf::expected<recovery_counts>
recover_running_jobs(caf::actor_system& sys, const storage_actor& storage,
                     const recovery_settings& settings);

} // namespace orchd
