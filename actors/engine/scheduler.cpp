#include "actors/engine/scheduler.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/engine/finalise.hpp"
#include "actors/engine/runner.hpp"
#include "actors/logic/card.hpp"
#include "actors/os/crash_point.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>

namespace orchd {

namespace {

void try_claim(scheduler_pointer self);
void send_claim(scheduler_pointer self, const claim_options& opts);
void give_back(scheduler_pointer self, const job_row& job);
void finalise(scheduler_pointer self, const run_report& report);

// How many claims to send now: one per free slot, but only one at a time
// when projects have caps of their own (claims in flight cannot see each
// other's repo).
int64_t claims_to_send(const scheduler_state& st) {
  auto free = st.settings.max_concurrency -
              static_cast<int64_t>(st.running.size()) - st.claiming;
  if (!st.settings.repo_caps.empty())
    free = std::min<int64_t>(free, st.claiming == 0 ? 1 : 0);
  return free;
}

// Repos with a cap of their own that their running jobs fill.
std::vector<std::string> repos_at_cap(const scheduler_state& st) {
  std::vector<std::string> out;
  for (auto& [name, cap] : st.settings.repo_caps) {
    const auto& repo = name; // a binding a lambda may capture (C++17)
    auto n = std::count_if(st.running.begin(), st.running.end(), [&](auto& kv) {
      return kv.second.job.repo == repo;
    });
    if (cap > 0 && n >= cap)
      out.push_back(repo);
  }
  return out;
}

// One timer for the earliest held-back job; a newer one replaces it.
void arm_due_timer(scheduler_pointer self) {
  auto generation = ++self->state.due_generation;
  self->request(self->state.storage, self->state.settings.storage_timeout,
                atom::next_due_v)
      .then(
          [self, generation](const caf::optional<int64_t>& ms) {
            if (!ms || generation != self->state.due_generation)
              return;
            self->delayed_send(self, std::chrono::milliseconds(*ms + 5),
                               atom::due_v, generation);
          },
          [](const caf::error& err) {
            log::warn("orchd.scheduler: cannot read the next due job: ",
                      describe(err));
          });
}

void check_drained(scheduler_pointer self) {
  auto& st = self->state;
  if (st.draining && st.running.empty() && st.finalising == 0 &&
      st.drained.pending()) {
    log::info("orchd.scheduler: drained, no agent running");
    st.drained.deliver(st.drain_started_with);
  }
}

void fail_unconfigured(scheduler_pointer self, const job_row& job) {
  job_mark mark;
  mark.job_id = job.id;
  mark.status = job_status::failed;
  mark.error = "no agent '" + job.agent + "' is configured";
  log::error("orchd.scheduler: job ", job.id, ": ", *mark.error);
  self->request(self->state.storage, self->state.settings.storage_timeout,
                atom::finalise_v, mark)
      .then([](bool) {},
            [](const caf::error& err) {
              log::error("orchd.scheduler: cannot fail a job: ", describe(err));
            });
}

void start(scheduler_pointer self, job_row job) {
  auto& st = self->state;
  auto agent = st.settings.agents.find(job.agent);
  if (agent == st.settings.agents.end()) {
    fail_unconfigured(self, job);
    return;
  }
  auto runner =
      st.runners(caf::actor_cast<scheduler_actor>(self), job, agent->second);
  // A runner that goes down without reporting must not keep its slot or
  // leave its job running for good (the reaper skips jobs we own).
  self->monitor(runner);
  auto id = job.id;
  if (job.task_id && st.settings.tracker)
    self->send(st.settings.tracker, atom::card_v, *job.task_id, false);
  ++st.claimed;
  metrics::add("orchd_claims_total", {});
  // Waited from its enqueue, or from the time it was held until.
  auto queued = std::max(card::seconds_of(job.created_at).value_or(0),
                         card::seconds_of(job.available_at).value_or(0));
  if (auto started = card::seconds_of(job.started_at); started && queued > 0)
    metrics::observe(
        "orchd_job_wait_seconds", {},
        static_cast<double>(std::max<int64_t>(0, *started - queued)));
  st.running.emplace(id, scheduler_slot{std::move(job), std::move(runner),
                                        std::chrono::steady_clock::now()});
}

void try_claim(scheduler_pointer self) {
  auto& st = self->state;
  if (st.draining)
    return;
  auto n = claims_to_send(st);
  if (n <= 0) {
    // Full, or claims are out: look again when they are answered.
    if (st.claiming > 0)
      st.again = true;
    return;
  }
  st.again = false;
  claim_options opts;
  opts.dependency_gate = st.settings.dependency_gate;
  opts.excluded_repos = repos_at_cap(st);
  opts.serial_gate_agents = st.settings.serial_gate_agents;
  opts.held_agents = held_agents(st);
  opts.budgets = st.settings.budgets;
  for (int64_t i = 0; i < n; ++i)
    send_claim(self, opts);
}

void send_claim(scheduler_pointer self, const claim_options& opts) {
  auto& st = self->state;
  ++st.claiming;
  self->request(st.storage, st.settings.storage_timeout, atom::claim_v, opts)
      .then(
          [self](job_row& job) {
            crash_point(crash_at::claim);
            --self->state.claiming;
            if (self->state.draining) {
              // Claimed just as the drain began: give it back untouched.
              give_back(self, job);
              return;
            }
            start(self, std::move(job));
            try_claim(self);
          },
          [self](const caf::error& err) {
            auto& st = self->state;
            --st.claiming;
            if (err != ec::no_claimable_job) {
              log::error("orchd.scheduler: claim failed: ", describe(err));
              self->delayed_send(self, st.settings.claim_retry, atom::wake_v);
              return;
            }
            if (st.again)
              try_claim(self);
            else if (st.claiming == 0)
              arm_due_timer(self);
          });
}

// A job claimed just as the drain began goes back to the queue untouched.
void give_back(scheduler_pointer self, const job_row& job) {
  job_mark back{job.id, job_status::queued, caf::none, caf::none, caf::none};
  self->request(self->state.storage, self->state.settings.storage_timeout,
                atom::mark_job_v, back)
      .then([](bool) {},
            [id = job.id](const caf::error& err) {
              log::error("orchd.scheduler: cannot give job ", id,
                         " back to the queue: ", describe(err),
                         " (the next start's recovery will)");
            });
}

// A runner went down. One that reported first is no longer in `running`;
// one that did not is finalised as a crash (its agent, if any, was killed
// when the runner terminated), which frees its slot.
void on_runner_down(scheduler_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto it = std::find_if(st.running.begin(), st.running.end(), [&](auto& kv) {
    return kv.second.runner.address() == msg.source;
  });
  if (it == st.running.end())
    return;
  auto reason = describe(msg.reason);
  log::error("orchd.scheduler: the runner of job ", it->first,
             " went down without reporting: ", reason);
  finalise(self, run_report{it->first, 0, run_kind::crash,
                            "the runner went down: " + reason, 0});
}

void log_finalised(const job_row& job, const finalise_plan& plan, bool won) {
  if (!won) {
    log::info("orchd.scheduler: job ", job.id,
              ": already finalised elsewhere, this outcome is dropped");
    return;
  }
  if (plan.is_transient()) {
    auto& r = plan.requeue();
    log::info("orchd.scheduler: job ", job.id,
              ": requeued after a transient failure, due in ", r.delay_s,
              " s: ", r.error.value_or(""));
    return;
  }
  if (plan.is_interruption()) {
    log::info("orchd.scheduler: job ", job.id,
              ": interrupted by orchd, back in the queue unless this was "
              "its last allowed interruption: ",
              plan.interrupted().error);
    return;
  }
  auto& m = plan.mark();
  switch (m.status) {
  case job_status::done:
    log::info("orchd.scheduler: job ", job.id, ": done");
    break;
  case job_status::queued:
    log::info("orchd.scheduler: job ", job.id, ": back in the queue (attempt ",
              job.attempts, "/", job.max_attempts, "): ", m.error.value_or(""));
    break;
  default:
    log::warn("orchd.scheduler: job ", job.id,
              ": failed: ", m.error.value_or(""));
  }
}

// Writes a finalise plan (guarded); a job that failed for good is the
// pipeline's to hear of.
void write_plan(scheduler_pointer self, const job_row& job,
                finalise_plan plan) {
  auto& st = self->state;
  ++st.finalising;
  auto done = [self, job, plan](bool won) {
    log_finalised(job, plan, won);
    if (won)
      crash_point(crash_at::finalise);
    auto& st = self->state;
    if (won && job.task_id && st.settings.tracker)
      self->send(st.settings.tracker, atom::card_v, *job.task_id, false);
    if (won && std::holds_alternative<job_mark>(plan.write)) {
      auto& m = plan.mark();
      if (m.status == job_status::done)
        log::info("orchd.scheduler: agent_finished: job ", job.id, ", task ",
                  job.task_id ? std::to_string(*job.task_id) : "-", ", agent ",
                  job.agent);
      if (m.status == job_status::failed && job.task_id &&
          st.settings.pipeline) {
        auto failed = job;
        failed.status = job_status::failed;
        failed.error = m.error.value_or("");
        self->send(st.settings.pipeline, atom::failed_v, std::move(failed));
      }
    }
    --st.finalising;
    check_drained(self);
  };
  auto on_error = [self, job_id = job.id](const caf::error& err) {
    log::error("orchd.scheduler: job ", job_id,
               ": cannot finalise: ", describe(err), " (the reaper will)");
    --self->state.finalising;
    check_drained(self);
  };
  request_finalise(self, st.storage, st.settings.storage_timeout, plan, done,
                   on_error);
  // Right behind the write: a job it puts back (or frees a slot for) is
  // claimed as soon as it commits.
  try_claim(self);
}

finalise_plan make_plan(const scheduler_state& st, const job_row& job,
                        const run_report& report) {
  run_verdict verdict{report.outcome, report.error, report.retry_after_s};
  auto plan = plan_finalise(job, report.run_id, verdict, st.settings.backoff);
  if (report.run_id == 0) {
    // No run was started: guard on "running" alone.
    if (plan.is_transient()) {
      plan.requeue().expected_run_id = int64_t{0};
    } else if (plan.is_interruption()) {
      plan.interrupted().expected_run_id = caf::none;
    } else {
      plan.mark().run_id = caf::none;
      plan.mark().expected_run_id = caf::none;
    }
  }
  return plan;
}

// Writes a judged success: the job's end and the task's transition in one
// write. A task that left the stage meanwhile gets a plain finalise; a
// job finalised elsewhere (the reaper, a cancel) loses, as any finalise.
void write_judged(scheduler_pointer self, const job_row& job,
                  const run_report& report, judgement j) {
  auto& st = self->state;
  ++st.finalising;
  auto task_id = j.task_id;
  auto from = j.from;
  auto actions = j.actions;
  self->request(st.storage, st.settings.storage_timeout, atom::transition_v,
                task_id, from, std::move(actions))
      .then(
          [self, job, report, j](applied_transition& applied) mutable {
            auto& st = self->state;
            --st.finalising;
            if (!applied.applied) {
              log::info("orchd.scheduler: job ", job.id, ": task ", j.task_id,
                        " left ", to_string(j.from),
                        " meanwhile; finalised without a transition");
              write_plan(self, job, make_plan(st, job, report));
              return;
            }
            crash_point(crash_at::finalise);
            log::info("orchd.scheduler: agent_finished: job ", job.id,
                      ", task ", j.task_id, ", agent ", job.agent,
                      j.kind == judgement::defer ? " (deferred)" : "");
            if (st.settings.pipeline)
              self->send(st.settings.pipeline, atom::applied_v, std::move(j),
                         std::move(applied));
            try_claim(self);
            check_drained(self);
          },
          [self, job](const caf::error& err) {
            auto& st = self->state;
            --st.finalising;
            if (err == ec::conflict)
              log::info("orchd.scheduler: job ", job.id,
                        ": already finalised elsewhere, this outcome is "
                        "dropped");
            else
              log::error("orchd.scheduler: job ", job.id,
                         ": cannot finalise: ", describe(err),
                         " (the reaper will)");
            check_drained(self);
          });
  // Sent right behind the write, the claim is answered right after it
  // commits (and sees the job it enqueued), not a round trip later.
  try_claim(self);
}

// A task's success is the pipeline's to judge first: done with the next
// stage, a fault (its attempts rule), or deferred.
void judge_success(scheduler_pointer self, job_row job, run_report report) {
  auto& st = self->state;
  // The run that ended: the judged write is guarded on it.
  if (report.run_id != 0)
    job.run_id = report.run_id;
  ++st.finalising;
  self->request(st.settings.pipeline, st.settings.storage_timeout,
                atom::judge_v, job, report.result_text)
      .then(
          [self, job, report](judgement& j) mutable {
            auto& st = self->state;
            --st.finalising;
            switch (j.kind) {
            case judgement::accept:
            case judgement::defer:
              return write_judged(self, job, report, std::move(j));
            case judgement::fault:
              report.outcome = run_kind::fault;
              report.error = j.reason;
              break;
            case judgement::plain:
              break;
            }
            write_plan(self, job, make_plan(st, job, report));
          },
          [self, job, report](const caf::error& err) {
            // The pipeline could not judge (storage down): finalise it done;
            // the reconciler looks at a task that then stops moving.
            log::error(
                "orchd.scheduler: job ", job.id,
                ": the pipeline could not judge its success: ", describe(err));
            auto& st = self->state;
            --st.finalising;
            write_plan(self, job, make_plan(st, job, report));
          });
}

void finalise(scheduler_pointer self, const run_report& report) {
  auto& st = self->state;
  auto it = st.running.find(report.job_id);
  if (it == st.running.end()) {
    log::warn("orchd.scheduler: a report for job ", report.job_id,
              " that no runner of ours runs");
    return;
  }
  auto job = std::move(it->second.job);
  auto ran = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           it->second.began)
                 .count();
  st.running.erase(it);
  hold_account(self, job, report);
  metrics::add("orchd_agent_runs_total",
               {{"agent", job.agent}, {"outcome", to_string(report.outcome)}});
  metrics::observe("orchd_agent_duration_seconds", {{"agent", job.agent}}, ran);
  // A slot is free: claim now (a judged success claims again behind its
  // write).
  if (report.outcome == run_kind::success && job.task_id &&
      st.settings.pipeline)
    judge_success(self, std::move(job), report);
  else
    write_plan(self, job, make_plan(st, job, report));
  try_claim(self);
}

} // namespace

runner_factory
process_runners(caf::actor_system& sys, const storage_actor& storage,
                std::shared_ptr<child_watcher> watcher,
                std::shared_ptr<const runner_settings> settings) {
  return [&sys, storage, watcher, settings](const scheduler_actor& scheduler,
                                            const job_row& job,
                                            const agent_config& agent) {
    return spawn_runner(sys, storage, scheduler, watcher, settings, job, agent);
  };
}

scheduler_actor::behavior_type scheduler(scheduler_pointer self,
                                         storage_actor storage,
                                         scheduler_settings settings,
                                         runner_factory runners) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.settings = std::move(settings);
  st.runners = std::move(runners);
  self->set_down_handler(
      [self](const caf::down_msg& msg) { on_runner_down(self, msg); });
  try_claim(self);
  return counted(
      self->state.vitals,
      scheduler_actor::behavior_type{
          [self](atom::status) { return answer_status(self); },
          [self](atom::wake) { try_claim(self); },
          [self](atom::unhold, const std::string& account, int64_t generation) {
            auto& st = self->state;
            auto it = st.holds.find(account);
            if (it == st.holds.end() || it->second.generation != generation)
              return;
            st.holds.erase(it);
            log::info("orchd.scheduler: account ", account,
                      " released: its usage limit has reset");
            try_claim(self);
          },
          [self](atom::holds) { return account_holds(self->state); },
          [self](atom::budget, const budget_change& x) -> caf::result<int64_t> {
            auto rp = self->make_response_promise<int64_t>();
            self->request(self->state.storage,
                          self->state.settings.storage_timeout, atom::budget_v,
                          x)
                .then(
                    [self, rp](int64_t released) mutable {
                      rp.deliver(released);
                      try_claim(self);
                    },
                    [rp](const caf::error& err) mutable { rp.deliver(err); });
            return rp;
          },
          [self](atom::due, int64_t generation) {
            if (generation == self->state.due_generation)
              try_claim(self);
          },
          [self](atom::enqueue, const new_job& job) -> caf::result<int64_t> {
            auto rp = self->make_response_promise<int64_t>();
            self->request(self->state.storage,
                          self->state.settings.storage_timeout, atom::enqueue_v,
                          job)
                .then([rp](int64_t id) mutable { rp.deliver(id); },
                      [rp](const caf::error& err) mutable { rp.deliver(err); });
            // Sent right behind the enqueue, the claim joins its transaction
            // (it sees the new row) and both share one commit.
            try_claim(self);
            return rp;
          },
          [self](atom::finish, const run_report& report) {
            finalise(self, report);
          },
          [self](atom::owned) {
            std::vector<int64_t> ids;
            for (auto& [id, s] : self->state.running)
              ids.push_back(id);
            return ids;
          },
          [self](atom::cancel, int64_t job_id) -> caf::result<bool> {
            auto rp = self->make_response_promise<bool>();
            self->request(self->state.storage,
                          self->state.settings.storage_timeout, atom::cancel_v,
                          job_id)
                .then(
                    [self, rp, job_id](bool) mutable {
                      log::info("orchd.scheduler: job ", job_id,
                                " cancelled by the operator");
                      auto it = self->state.running.find(job_id);
                      if (it != self->state.running.end())
                        self->send(it->second.runner, atom::kill_v,
                                   run_kind::cancelled);
                      rp.deliver(true);
                    },
                    [rp](const caf::error& err) mutable { rp.deliver(err); });
            return rp;
          },
          [self](atom::requeue, int64_t job_id) -> caf::result<bool> {
            auto rp = self->make_response_promise<bool>();
            self->request(self->state.storage,
                          self->state.settings.storage_timeout, atom::requeue_v,
                          job_id)
                .then(
                    [self, rp, job_id](bool) mutable {
                      log::info("orchd.scheduler: job ", job_id,
                                " requeued by the operator");
                      rp.deliver(true);
                      try_claim(self);
                    },
                    [rp](const caf::error& err) mutable { rp.deliver(err); });
            return rp;
          },
          [self](atom::drain, int64_t seconds) -> caf::result<int64_t> {
            auto& st = self->state;
            st.draining = true;
            ++st.due_generation;
            st.drain_started_with = static_cast<int64_t>(st.running.size());
            if (st.running.empty())
              return int64_t{0};
            log::info("orchd.scheduler: draining, ", st.running.size(),
                      " agents running, waiting up to ", seconds, " s");
            st.drained = self->make_response_promise<int64_t>();
            // A second signal that came before the drain (both were
            // pending at once) stops the agents now.
            if (st.stop_asked)
              self->send(self, atom::kill_v);
            else
              self->delayed_send(self, std::chrono::seconds(seconds),
                                 atom::kill_v);
            return st.drained;
          },
          [self](atom::stop_jobs, const std::vector<int64_t>& ids) {
            for (auto id : ids) {
              auto it = self->state.running.find(id);
              if (it == self->state.running.end())
                continue;
              log::info("orchd.scheduler: job ", id,
                        ": its task was cancelled, stopping its agent");
              self->send(it->second.runner, atom::kill_v, run_kind::cancelled);
            }
          },
          [self](atom::kill) {
            auto& st = self->state;
            if (!st.draining) {
              // The daemon sends the drain and a second signal's kill from
              // two threads: the kill may come first.
              st.stop_asked = true;
              return;
            }
            if (st.running.empty())
              return;
            log::warn("orchd.scheduler: stopping ", st.running.size(),
                      " running agents; their jobs go back to the queue");
            for (auto& [id, s] : st.running)
              self->send(s.runner, atom::kill_v, run_kind::shutdown);
          },
      });
}

scheduler_actor spawn_scheduler(caf::actor_system& sys,
                                const storage_actor& storage,
                                scheduler_settings settings,
                                runner_factory runners) {
  return sys.spawn(scheduler, storage, std::move(settings), std::move(runners));
}

} // namespace orchd
