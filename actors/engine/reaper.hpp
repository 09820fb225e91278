// The reaper actor: a periodic three-tier check of running jobs. Every
// flip is a guarded compare-and-set on (running, this run), so it loses
// cleanly to a runner finishing at the same moment.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/agent_result.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace orchd {

struct reaper_settings {
  std::chrono::seconds interval{30};
  int64_t finalise_grace_s = 120;
  int64_t backstop_s = 6 * 3600;
  retry_policy backoff;
  /// ORCHD_INSTANCE of this daemon's agents.
  std::string instance;
  std::chrono::seconds storage_timeout{60};
  /// Judges a task's success the reaper finalises (none: finalised done
  /// without a transition).
  pipeline_actor pipeline;
};

/// What the reaper does with one running job.
enum class reap_tier {
  /// Leave it: a runner of this daemon owns it, or it is too young to judge.
  none,
  /// 1: its process is gone and no runner owns it -> requeue or fail.
  lost,
  /// 2: its run recorded an exit longer ago than the grace -> finalise
  /// from the recorded result.
  unfinalised,
  /// 3: running longer than the backstop -> kill its group, fail it.
  backstop,
};

/// The decision, from the job, whether a runner owns it, and whether its
/// agent process (by pid) is alive. A job owned by a runner is never
/// reaped: the runner's own timeout bounds it.
reap_tier decide_reap(const running_job& job, bool owned, bool agent_alive,
                      const reaper_settings& settings);

/// Whether the agent of a job is alive: its stamped pid, or any process
/// carrying its ORCHD_JOB_ID; and kills what is found (tier 3, lost jobs).
/// Real process checks by default; tests replace them.
struct process_probe {
  std::function<bool(const running_job&)> alive;
  std::function<void(const running_job&)> kill;
};

process_probe real_process_probe(std::string instance);

struct reaper_state {
  static inline const char* name = "orchd.reaper";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  scheduler_actor scheduler;
  reaper_settings settings;
  process_probe probe;
  /// The last sweep: when it began (unix seconds) and its flips by tier.
  int64_t last_sweep_at = 0;
  int64_t running_seen = 0;
  int64_t lost = 0;
  int64_t unfinalised = 0;
  int64_t backstop = 0;
};

using reaper_pointer = reaper_actor::stateful_pointer<reaper_state>;

/// The reaper's behaviour: sweeps every `settings.interval`.
reaper_actor::behavior_type reaper(reaper_pointer self, storage_actor storage,
                                   scheduler_actor scheduler,
                                   reaper_settings settings,
                                   process_probe probe);

reaper_actor spawn_reaper(caf::actor_system& sys, const storage_actor& storage,
                          const scheduler_actor& scheduler,
                          reaper_settings settings, process_probe probe);

} // namespace orchd
