// The scheduler actor: the claim loop, the concurrency slots, and the
// finalising of every run (DESIGN.md §1).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "actors/logic/agent_result.hpp"
#include "actors/logic/config.hpp"

#include <caf/fwd.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace orchd {

class child_watcher;
struct runner_settings;

/// Starts the runner of a claimed job (the daemon's spawns a real agent
/// process; tests pass their own).
using runner_factory =
    std::function<runner_actor(const scheduler_actor& self, const job_row& job,
                               const agent_config& agent)>;

struct scheduler_settings {
  int64_t max_concurrency = 4;
  /// Per-repo caps (repo -> max running); absent or 0: only the global one.
  std::map<std::string, int64_t> repo_caps;
  bool dependency_gate = true;
  /// Agents whose jobs wait at the per-repo serial gate.
  std::vector<std::string> serial_gate_agents = {"analyst"};
  retry_policy backoff;
  std::map<std::string, agent_config> agents;
  std::chrono::seconds storage_timeout{60};
  /// Retry of a claim that failed in storage.
  std::chrono::milliseconds claim_retry{1000};
  /// Judges a task's job success before it is finalised (none: every
  /// success is finalised done, as for a job without a task).
  pipeline_actor pipeline;
  /// Hears of a task's job starting or ending (may be null).
  tracker_actor tracker;
  /// A usage limit one run hits holds its account's queued jobs until the
  /// reset (off: each job finds the limit on its own).
  bool account_holds = true;
  /// Each project's budgets, checked by the claim.
  std::vector<project_budget> budgets = {};
};

/// An account held until its usage limit resets.
struct held_account {
  caf::actor_clock::time_point until;
  /// The same in UTC text (what /queue shows).
  std::string until_text;
  std::string reason;
  /// Only the newest timer of the account ends the hold.
  int64_t generation = 0;
};

/// A running job and its runner.
struct scheduler_slot {
  job_row job;
  runner_actor runner;
  /// When its runner was started (the agent's duration in /metrics).
  std::chrono::steady_clock::time_point began;
};

struct scheduler_state {
  static inline const char* name = "orchd.scheduler";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;
  storage_actor storage;
  scheduler_settings settings;
  runner_factory runners;
  /// Running jobs by id, each with its (monitored) runner.
  std::map<int64_t, scheduler_slot> running;
  /// Claims sent and not yet answered; `again`: something changed while
  /// they were out. Several claims join one group commit, so a burst of
  /// free slots fills in one fsync.
  int64_t claiming = 0;
  bool again = false;
  /// Only the newest due timer counts.
  int64_t due_generation = 0;
  /// Finalising writes sent and not yet answered (a drain waits for them).
  int64_t finalising = 0;
  bool draining = false;
  /// A kill came before the drain: the drain stops the agents at once.
  bool stop_asked = false;
  /// Jobs claimed since start.
  int64_t claimed = 0;
  /// Accounts held by a usage limit, by name; their agents' jobs are not
  /// claimed until the hold ends.
  std::map<std::string, held_account> holds;
  int64_t hold_generation = 0;
  caf::typed_response_promise<int64_t> drained;
  int64_t drain_started_with = 0;
};

using scheduler_pointer = scheduler_actor::stateful_pointer<scheduler_state>;

// -- account holds (scheduler_holds.cpp) --------------------------------------

/// The accounts held now, for /queue and the status.
std::vector<account_hold> account_holds(const scheduler_state& st);

/// The agents whose account is held (a claim skips their jobs).
std::vector<std::string> held_agents(const scheduler_state& st);

/// Holds the job's account when its run ended with a usage limit that
/// names its reset (a transient outcome with a retry-after).
void hold_account(scheduler_pointer self, const job_row& job,
                  const run_report& report);

/// Answers the inspector: its slots, the queue's counts, its holds
/// (scheduler_status.cpp).
caf::result<actor_status> answer_status(scheduler_pointer self);

/// The scheduler's behaviour; it claims at once.
scheduler_actor::behavior_type scheduler(scheduler_pointer self,
                                         storage_actor storage,
                                         scheduler_settings settings,
                                         runner_factory runners);

/// The factory the daemon uses: real agent processes through `watcher`.
runner_factory process_runners(caf::actor_system& sys,
                               const storage_actor& storage,
                               std::shared_ptr<child_watcher> watcher,
                               std::shared_ptr<const runner_settings> settings);

/// Spawns the scheduler; it claims at once (call it after restart recovery).
scheduler_actor spawn_scheduler(caf::actor_system& sys,
                                const storage_actor& storage,
                                scheduler_settings settings,
                                runner_factory runners);

} // namespace orchd
