// Agent processes: spawning one in its own process group with only fds
// 0-2 open, learning of its exit without blocking anybody (a pidfd on the
// watcher's io thread), capturing its output with a size cap, and finding
// and killing the agents a previous daemon left behind.
#pragma once

#include "actors/core/records.hpp"

#include <caf/expected.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace orchd {

/// What to run and how.
struct spawn_request {
  std::string program;
  std::vector<std::string> args;
  /// Working directory of the child.
  std::string cwd;
  /// The child's stdin (the task file).
  std::string stdin_path;
  /// The child's whole environment, as "KEY=VALUE".
  std::vector<std::string> env;
  /// stdout and stderr go here, up to `output_cap_bytes`; beyond it output
  /// is read and dropped, so the agent never blocks on a full pipe.
  std::string log_path;
  int64_t output_cap_bytes = 64 * 1024 * 1024;
  /// The tail of stdout kept in memory for the result.
  int64_t stdout_keep_bytes = 4 * 1024 * 1024;
};

/// Owns the io thread that watches children: one pidfd and two pipes per
/// child. When the child exits, whatever is left of its process group is
/// killed (the leader is still unreaped then, so its group id cannot have
/// been reused), the child is reaped, its pipes are drained, and `done` is
/// called on the io thread.
class child_watcher {
public:
  child_watcher();
  ~child_watcher();
  child_watcher(const child_watcher&) = delete;
  child_watcher& operator=(const child_watcher&) = delete;

  /// Spawns and watches. Answers the pid; `done` runs exactly once.
  caf::expected<int64_t> spawn(const spawn_request& req,
                               std::function<void(process_exit)> done);

  /// Sends `sig` to the child's whole process group, unless the child has
  /// already been reaped (then nothing: its group id may be reused).
  void signal_group(int64_t pid, int sig);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The process groups of agents a daemon over `instance` started for
/// `job_id`, found by the ORCHD_INSTANCE and ORCHD_JOB_ID variables of the
/// processes still alive (so it works without a stamped pid, and never
/// touches a process that merely reuses an old pid).
std::vector<int64_t> find_agent_groups(const std::string& instance,
                                       int64_t job_id);

/// SIGKILLs the process group and waits (up to `wait_ms`) until none of
/// its members is alive. True when the group is gone.
bool kill_group(int64_t pgid, int64_t wait_ms = 5000);

/// True while a process with this pid exists and is not a zombie.
bool process_alive(int64_t pid);

/// Whether the live process `pid` is an agent of `job_id`: its environment
/// carries ORCHD_JOB_ID=<job_id>, or its program (or the script its
/// interpreter runs) is named like one of `programs`. A process that merely
/// reuses a recorded pid is neither.
bool looks_like_agent(int64_t pid, int64_t job_id,
                      const std::vector<std::string>& programs);

/// SIGTERM to the process (its whole group when it leads one), SIGKILL
/// after `grace_ms`; waits until it is gone. True when it is.
bool stop_agent_process(int64_t pid, int64_t grace_ms);

} // namespace orchd
