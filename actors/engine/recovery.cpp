#include "actors/engine/recovery.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/os/child_process.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

namespace orchd {

caf::expected<int64_t> recover_running_jobs(caf::actor_system& sys,
                                            const storage_actor& storage,
                                            const std::string& instance,
                                            std::chrono::seconds timeout) {
  caf::scoped_actor self{sys};
  std::vector<running_job> jobs;
  caf::error failure;
  self->request(storage, timeout, atom::running_v)
      .receive([&](std::vector<running_job>& xs) { jobs = std::move(xs); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return failure;
  int64_t requeued = 0;
  for (auto& r : jobs) {
    auto& job = r.job;
    for (auto group : find_agent_groups(instance, job.id)) {
      log::warn("recovery: job ", job.id, ": killing process group ", group,
                " left by the previous daemon");
      if (!kill_group(group))
        log::error("recovery: process group ", group, " survived SIGKILL");
    }
    auto error = "the daemon restarted while the agent ran (attempt " +
                 std::to_string(job.attempts) + ")";
    if (job.run_id && !r.exit_code) {
      run_outcome out;
      out.run_id = *job.run_id;
      out.exit_code = -9;
      out.outcome = run_kind::shutdown;
      out.error = error;
      self->request(storage, timeout, atom::finish_run_v, out)
          .receive([](bool) {}, [&](caf::error& err) { failure = err; });
    }
    job_mark mark;
    mark.job_id = job.id;
    mark.status = job_status::queued;
    mark.error = error;
    mark.expected_run_id = job.run_id;
    self->request(storage, timeout, atom::finalise_v, mark)
        .receive([&](bool won) { requeued += won ? 1 : 0; },
                 [&](caf::error& err) { failure = err; });
    if (failure)
      return failure;
    log::info("recovery: job ", job.id, " requeued: ", error);
  }
  return requeued;
}

} // namespace orchd
