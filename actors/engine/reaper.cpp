#include "actors/engine/reaper.hpp"

#include "actors/engine/finalise.hpp"
#include "actors/engine/recovery.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/os/child_process.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <memory>

namespace orchd {

reap_tier decide_reap(const running_job& job, bool owned, bool agent_alive,
                      const reaper_settings& settings) {
  if (owned)
    return reap_tier::none;
  if (job.running_age_s >= settings.backstop_s)
    return reap_tier::backstop;
  if (job.exit_code)
    return job.finished_age_s &&
                   *job.finished_age_s >= settings.finalise_grace_s
               ? reap_tier::unfinalised
               : reap_tier::none;
  return agent_alive ? reap_tier::none : reap_tier::lost;
}

process_probe real_process_probe(std::string instance) {
  process_probe probe;
  probe.alive = [instance](const running_job& r) {
    return !find_agent_groups(instance, r.job.id).empty();
  };
  probe.kill = [instance](const running_job& r) {
    for (auto group : find_agent_groups(instance, r.job.id))
      kill_group(group, 0);
  };
  return probe;
}

namespace {

// Counts the answers of one sweep's flips; answers when all are in.
struct sweep {
  caf::typed_response_promise<int64_t> rp;
  bool has_rp = false;
  int64_t pending = 0;
  int64_t flipped = 0;
  scheduler_actor scheduler;

  void done_one(bool won) {
    flipped += won ? 1 : 0;
    if (--pending > 0)
      return;
    if (flipped > 0)
      caf::anon_send(scheduler, atom::wake_v);
    if (has_rp)
      rp.deliver(flipped);
  }
};

void write_plan(reaper_pointer self, std::shared_ptr<sweep> s,
                const finalise_plan& plan) {
  auto& st = self->state;
  auto on_error = [s](const caf::error& err) {
    log::error("orchd.reaper: a guarded write failed: ", describe(err));
    s->done_one(false);
  };
  ++s->pending;
  request_finalise(
      self, st.storage, st.settings.storage_timeout, plan,
      [s](bool won) { s->done_one(won); }, on_error);
}

// A task's success found unfinalised: the pipeline judges it first, as the
// scheduler's would be, so its job's end and the task's next stage commit
// together; whatever it cannot take is finalised as planned.
void write_success(reaper_pointer self, std::shared_ptr<sweep> s,
                   const running_job& r, finalise_plan plan) {
  auto& st = self->state;
  auto job = r.job;
  auto logged = result_in_log(r);
  ++s->pending;
  self->request(st.settings.pipeline, st.settings.storage_timeout,
                atom::judge_v, job, logged ? logged->text : std::string{})
      .then(
          [self, s, job, plan](judgement& j) mutable {
            auto& st = self->state;
            if (j.kind == judgement::fault) {
              plan = plan_finalise(job, job.run_id.value_or(0),
                                   run_verdict{run_kind::fault, j.reason, 0},
                                   st.settings.backoff);
            } else if (j.kind != judgement::plain) {
              self->request(st.storage, st.settings.storage_timeout,
                            atom::transition_v, j.task_id, j.from, j.actions)
                  .then(
                      [self, s, j, plan](applied_transition& applied) {
                        if (!applied.applied) {
                          write_plan(self, s, plan);
                        } else {
                          self->send(self->state.settings.pipeline,
                                     atom::applied_v, j, applied);
                          ++s->pending;
                          s->done_one(true);
                        }
                        s->done_one(false);
                      },
                      [s](const caf::error& err) {
                        if (err != ec::conflict)
                          log::error("orchd.reaper: a judged write failed: ",
                                     describe(err));
                        s->done_one(false);
                      });
              return;
            }
            write_plan(self, s, plan);
            s->done_one(false);
          },
          [self, s, plan](const caf::error& err) {
            log::warn("orchd.reaper: the pipeline could not judge a success: ",
                      describe(err));
            write_plan(self, s, plan);
            s->done_one(false);
          });
}

void reap(reaper_pointer self, const std::vector<running_job>& jobs,
          const std::vector<int64_t>& owned, std::shared_ptr<sweep> s) {
  auto& st = self->state;
  ++s->pending; // held until every flip is sent
  st.running_seen = static_cast<int64_t>(jobs.size());
  for (auto& r : jobs) {
    bool is_owned =
        std::find(owned.begin(), owned.end(), r.job.id) != owned.end();
    auto alive = !is_owned && st.probe.alive(r);
    auto tier = decide_reap(r, is_owned, alive, st.settings);
    auto run_id = r.job.run_id.value_or(0);
    switch (tier) {
    case reap_tier::none:
      break;
    case reap_tier::lost: {
      ++st.lost;
      metrics::add("orchd_reaper_flips_total", {{"tier", "lost"}});
      log::warn("orchd.reaper: job ", r.job.id,
                ": its agent is gone and no runner owns it");
      run_verdict v{run_kind::crash,
                    "agent process gone and no runner owned it", 0};
      write_plan(self, s, plan_finalise(r.job, run_id, v, st.settings.backoff));
      break;
    }
    case reap_tier::unfinalised:
      ++st.unfinalised;
      metrics::add("orchd_reaper_flips_total", {{"tier", "unfinalised"}});
      log::warn("orchd.reaper: job ", r.job.id, ": its run ended ",
                r.finished_age_s.value_or(0),
                " s ago and was never finalised; finalising it");
      {
        auto plan = plan_from_run(r, st.settings.backoff);
        if (st.settings.pipeline && r.job.task_id && plan.is_done())
          write_success(self, s, r, std::move(plan));
        else
          write_plan(self, s, plan);
        break;
      }
    case reap_tier::backstop: {
      ++st.backstop;
      metrics::add("orchd_reaper_flips_total", {{"tier", "backstop"}});
      log::warn("orchd.reaper: job ", r.job.id, ": running for ",
                r.running_age_s, " s, past the backstop; killing it");
      st.probe.kill(r);
      job_mark mark;
      mark.job_id = r.job.id;
      mark.status = job_status::failed;
      mark.error = "ran longer than the backstop (" +
                   std::to_string(st.settings.backstop_s) + " s)";
      if (run_id != 0)
        mark.expected_run_id = run_id;
      write_plan(self, s, finalise_plan{mark});
      break;
    }
    }
  }
  s->done_one(false);
}

void start_sweep(reaper_pointer self, std::shared_ptr<sweep> s) {
  auto& st = self->state;
  st.last_sweep_at = static_cast<int64_t>(std::time(nullptr));
  st.running_seen = st.lost = st.unfinalised = st.backstop = 0;
  auto fail = [s](const caf::error& err) {
    log::warn("orchd.reaper: sweep skipped: ", describe(err));
    s->pending = 1;
    s->done_one(false);
  };
  self->request(st.storage, st.settings.storage_timeout, atom::running_v)
      .then(
          [self, s, fail](std::vector<running_job>& jobs) {
            if (jobs.empty()) {
              s->pending = 1;
              s->done_one(false);
              return;
            }
            // Asked after storage answered: a job claimed before the list
            // was read is already registered with the scheduler.
            self->request(self->state.scheduler,
                          self->state.settings.storage_timeout, atom::owned_v)
                .then(
                    [self, s, jobs](const std::vector<int64_t>& owned) {
                      reap(self, jobs, owned, s);
                    },
                    fail);
          },
          fail);
}

std::string status_summary(const reaper_state& st) {
  return nlohmann::json{{"last_sweep_at", st.last_sweep_at},
                        {"running_seen", st.running_seen},
                        {"flipped",
                         {{"lost", st.lost},
                          {"unfinalised", st.unfinalised},
                          {"backstop", st.backstop}}},
                        {"interval_s", st.settings.interval.count()}}
      .dump();
}

} // namespace

reaper_actor::behavior_type reaper(reaper_pointer self, storage_actor storage,
                                   scheduler_actor scheduler,
                                   reaper_settings settings,
                                   process_probe probe) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.scheduler = std::move(scheduler);
  st.settings = std::move(settings);
  st.probe = std::move(probe);
  self->delayed_send(self, st.settings.interval, atom::tick_v);
  return counted(self->state.vitals,
                 reaper_actor::behavior_type{
                     [self](atom::status) {
                       return status_of(self, self->state.vitals, "reaper",
                                        status_summary(self->state));
                     },
                     [self](atom::tick) {
                       auto s = std::make_shared<sweep>();
                       s->scheduler = self->state.scheduler;
                       start_sweep(self, s);
                       self->delayed_send(self, self->state.settings.interval,
                                          atom::tick_v);
                     },
                     [self](atom::reap) -> caf::result<int64_t> {
                       auto s = std::make_shared<sweep>();
                       s->scheduler = self->state.scheduler;
                       s->rp = self->make_response_promise<int64_t>();
                       s->has_rp = true;
                       start_sweep(self, s);
                       return s->rp;
                     },
                 });
}

reaper_actor spawn_reaper(caf::actor_system& sys, const storage_actor& storage,
                          const scheduler_actor& scheduler,
                          reaper_settings settings, process_probe probe) {
  return sys.spawn(reaper, storage, scheduler, std::move(settings),
                   std::move(probe));
}

} // namespace orchd
