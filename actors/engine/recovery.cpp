#include "actors/engine/recovery.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/engine/finalise.hpp"
#include "actors/os/child_process.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>

namespace orchd {

namespace {

// The last `max` bytes of a file (empty if it cannot be read).
std::string tail_of(const std::string& path, std::streamoff max) {
  std::ifstream in{path, std::ios::binary | std::ios::ate};
  if (!in)
    return {};
  auto size = static_cast<std::streamoff>(in.tellg());
  auto from = std::max<std::streamoff>(0, size - max);
  in.seekg(from);
  std::string text(static_cast<size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

} // namespace

// What the agent of a run the daemon did not see end printed as its result,
// read from the run's log: an agent prints its result as its last act, so
// one found there means the run finished (and must not run again) even
// though the daemon died before recording it.
caf::optional<agent_result> result_in_log(const running_job& r) {
  if (r.run_output_path.empty())
    return caf::none;
  constexpr std::streamoff keep = 4 * 1024 * 1024;
  auto result =
      parse_agent_result(tail_of(r.run_output_path, keep), std::time(nullptr));
  if (!result.parsed)
    return caf::none;
  return result;
}

// A task's success the previous daemon did not finalise: judged by the
// pipeline, as the scheduler's would be. Answers true when the judged
// write finalised it; a fault turns `plan` into the failure it is; else
// `plan` (done) is left to write.
caf::expected<bool> judge_now(caf::scoped_actor& self,
                              const storage_actor& storage,
                              const recovery_settings& settings, job_row job,
                              int64_t run_id, const std::string& text,
                              finalise_plan& plan) {
  if (run_id != 0)
    job.run_id = run_id;
  caf::expected<bool> out{false};
  judgement j;
  self->request(settings.pipeline, settings.timeout, atom::judge_v, job, text)
      .receive([&](judgement& x) { j = std::move(x); },
               [&](caf::error& err) { out = std::move(err); });
  if (!out)
    return out;
  if (j.kind == judgement::fault) {
    plan = plan_finalise(job, run_id, run_verdict{run_kind::fault, j.reason, 0},
                         settings.policy);
    return false;
  }
  if (j.kind == judgement::plain)
    return false;
  self->request(storage, settings.timeout, atom::transition_v, j.task_id,
                j.from, j.actions)
      .receive(
          [&](applied_transition& applied) {
            out = applied.applied;
            if (applied.applied)
              self->send(settings.pipeline, atom::applied_v, j, applied);
          },
          [&](caf::error& err) {
            // Finalised elsewhere: nothing left to write.
            if (err == ec::conflict)
              out = true;
            else
              out = std::move(err);
          });
  return out;
}

caf::expected<recovery_counts>
recover_running_jobs(caf::actor_system& sys, const storage_actor& storage,
                     const recovery_settings& settings) {
  auto& policy = settings.policy;
  auto timeout = settings.timeout;
  caf::scoped_actor self{sys};
  std::vector<running_job> jobs;
  caf::error failure;
  self->request(storage, timeout, atom::running_v)
      .receive([&](std::vector<running_job>& xs) { jobs = std::move(xs); },
               [&](caf::error& err) { failure = std::move(err); });
  if (failure)
    return failure;
  // Records how a run the daemon did not see end ended.
  auto record_end = [&](const run_outcome& out) {
    self->request(storage, timeout, atom::finish_run_v, out)
        .receive([](bool) {}, [&](caf::error& err) { failure = err; });
    return !failure;
  };
  recovery_counts counts;
  for (auto& r : jobs) {
    auto& job = r.job;
    for (auto group : find_agent_groups(settings.instance, job.id)) {
      log::warn("recovery: job ", job.id, ": killing process group ", group,
                " left by the previous daemon");
      if (!kill_group(group))
        log::error("recovery: process group ", group, " survived SIGKILL");
    }
    if (job.pid && process_alive(*job.pid)) {
      if (looks_like_agent(*job.pid, job.id, settings.agent_programs)) {
        log::warn("recovery: job ", job.id, ": its agent, pid ", *job.pid,
                  ", still runs (started by an earlier orchestrator); "
                  "stopping it before the job is requeued");
        if (!stop_agent_process(*job.pid, settings.kill_grace_ms))
          log::error("recovery: pid ", *job.pid, " survived SIGKILL");
      } else {
        log::info("recovery: job ", job.id, ": pid ", *job.pid,
                  " is alive but is not its agent (a reused pid); left "
                  "alone");
      }
    }
    finalise_plan plan;
    auto logged = !r.exit_code && job.run_id ? result_in_log(r) : caf::none;
    if (r.exit_code) {
      // The run ended and said how before the daemon died: finalise it
      // from that, exactly as the reaper's second tier would. Running the
      // agent again would repeat finished (paid for, maybe pushed) work.
      plan = plan_from_run(r, policy);
    } else if (logged) {
      // The agent printed its result, the daemon died before reading its
      // end: record the run from the log, then finalise as above.
      auto verdict = classify_run(*logged, -9);
      run_outcome out;
      out.run_id = *job.run_id;
      out.exit_code = -9;
      out.usage = logged->usage;
      out.model = logged->model;
      out.outcome = verdict.kind;
      out.error = verdict.error;
      out.retry_after_s = verdict.retry_after_s;
      if (!record_end(out))
        return failure;
      log::info("recovery: job ", job.id, ": run ", *job.run_id,
                " printed its result (", to_string(verdict.kind),
                ") before the daemon died; recorded from its log");
      plan = plan_finalise(job, *job.run_id, verdict, policy);
    } else {
      auto error = std::string{"the daemon restarted while the agent ran"};
      if (job.run_id) {
        run_outcome out;
        out.run_id = *job.run_id;
        out.exit_code = -9;
        out.outcome = run_kind::shutdown;
        out.error = error;
        if (!record_end(out))
          return failure;
      }
      plan = plan_finalise(job, job.run_id.value_or(0),
                           run_verdict{run_kind::shutdown, error, 0}, policy);
      if (!job.run_id)
        plan.interrupted().expected_run_id = caf::none;
    }
    // A task's success: the pipeline's to judge first.
    if (settings.pipeline && job.task_id && plan.is_done()) {
      if (!logged)
        logged = result_in_log(r);
      auto judged =
          judge_now(self, storage, settings, job, job.run_id.value_or(0),
                    logged ? logged->text : std::string{}, plan);
      if (!judged)
        return judged.error();
      if (*judged) {
        ++counts.finalised;
        log::info("recovery: job ", job.id,
                  " finalised with its task's next stage");
        continue;
      }
    }
    auto won = finalise_now(self, storage, timeout, plan);
    if (!won)
      return won.error();
    if (!*won)
      continue;
    if (plan.is_interruption()) {
      ++counts.requeued;
      log::info("recovery: job ", job.id, " interrupted by the restart (",
                job.interruptions + 1, " of ", policy.max_interruptions,
                " allowed): ", plan.interrupted().error);
    } else {
      ++counts.finalised;
      log::info("recovery: job ", job.id,
                " finalised from its run's recorded end");
    }
  }
  return counts;
}

} // namespace orchd
