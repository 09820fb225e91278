#include "actors/pipeline/pipeline_actor.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/webhook_payload.hpp"
#include "actors/os/worktree.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <sys/stat.h>

namespace orchd {

pipeline_settings pipeline_settings_of(const config& cfg) {
  pipeline_settings x;
  x.projects = cfg.projects;
  x.workspace_root = cfg.workspace_root;
  x.limits.ci_fix_limit = cfg.pipeline.ci_fix_limit;
  x.limits.review_fix_limit = cfg.pipeline.review_fix_limit;
  x.limits.merge_defer_s = cfg.pipeline.merge_defer_s;
  x.brd_file = cfg.pipeline.brd_file;
  x.states = cfg.plane.states;
  for (auto& [name, agent] : cfg.agents)
    x.max_attempts[name] = agent.max_attempts;
  x.plane = plane::endpoint_of(cfg);
  return x;
}

namespace {

using on_error = std::function<void(const caf::error&)>;

const project_config* project_of(const pipeline_state& st,
                                 const std::string& repo) {
  return project_of_repo(st.settings.projects, repo);
}

std::string worktree_of(const pipeline_state& st, const project_config& p,
                        const task_row& task) {
  worktree_spec spec;
  spec.clone_path = p.clone_path;
  spec.workspace_root = st.settings.workspace_root;
  spec.repo = p.repo;
  spec.branch = task.branch;
  spec.work_item_id = task.work_item_id;
  spec.task_folder = p.task_folder;
  return worktree_path(spec);
}

// The BRD's path inside the worktree (and on the branch).
std::string brd_path(const pipeline_state& st, const project_config* p,
                     const task_row& task) {
  auto folder = p ? p->task_folder : std::string{"docs/work-items"};
  return folder + "/" + task.work_item_id + "/" + st.settings.brd_file;
}

bool regular_file(const std::string& path) {
  struct stat sb {};
  return ::stat(path.c_str(), &sb) == 0 && S_ISREG(sb.st_mode);
}

// The worktree's HEAD commit, or "" when git cannot tell.
std::string head_of(const std::string& worktree) {
  auto out = run_command({"git", "-C", worktree, "rev-parse", "HEAD"});
  auto sha = out.output;
  while (!sha.empty() && (sha.back() == '\n' || sha.back() == '\r'))
    sha.pop_back();
  return out.exit_code == 0 && is_commit_sha(sha) ? sha : std::string{};
}

pipeline::task_view view_of(const pipeline_state& st, const task_row& task,
                            const task_pipeline& p) {
  pipeline::task_view v;
  v.stage = task.stage;
  v.waits_for = p.waiting;
  v.expected_sha = p.expected_sha;
  v.ci_failures = p.ci_failures;
  v.review_rounds = p.review_rounds;
  v.stuck = !p.stuck_reason.empty();
  v.work_item_id = task.work_item_id;
  v.brd_path = brd_path(st, project_of(st, task.repo), task);
  return v;
}

// Reads the task and its pipeline columns (one read), then runs
// `f(task, columns)`.
void with_task(pipeline_pointer self, int64_t task_id,
               std::function<void(task_row&, task_pipeline&)> f,
               on_error fail) {
  auto& st = self->state;
  self->request(st.storage, st.settings.storage_timeout, atom::view_v, task_id)
      .then([f](task_detail& d) { f(d.task, d.pipeline); },
            [fail](const caf::error& err) { fail(err); });
}

// The agents' attempts on the jobs a transition enqueues.
void set_attempts(const pipeline_state& st,
                  std::vector<stage_action>& actions) {
  for (auto& a : actions) {
    if (a.kind != stage_action::enqueue)
      continue;
    auto i = st.settings.max_attempts.find(a.agent);
    if (i != st.settings.max_attempts.end())
      a.max_attempts = i->second;
  }
}

bool calls_plane(const std::vector<stage_action>& actions) {
  return std::any_of(actions.begin(), actions.end(), [](auto& a) {
    return a.kind == stage_action::plane_state ||
           a.kind == stage_action::plane_comment;
  });
}

// Whether the team must look: the human gate, stuck, a freeze, the end.
bool bumps(const std::vector<stage_action>& actions) {
  return std::any_of(actions.begin(), actions.end(), [](const auto& a) {
    switch (a.kind) {
    case stage_action::mark_stuck:
    case stage_action::freeze_repo:
      return true;
    case stage_action::set_waiting:
      return a.wait == task_wait::human_review;
    case stage_action::set_stage:
      return a.stage == task_stage::done || a.stage == task_stage::cancelled;
    default:
      return false;
    }
  });
}

// Logs an applied transition and tells the actors it concerns.
void after_applied(pipeline_pointer self, const judgement& j,
                   const applied_transition& applied) {
  auto& st = self->state;
  ++st.transitions;
  auto to = j.from;
  for (auto& a : j.actions)
    if (a.kind == stage_action::set_stage)
      to = a.stage;
  std::string jobs;
  for (auto id : applied.enqueued)
    jobs += (jobs.empty() ? ", enqueued job " : ", ") + std::to_string(id);
  log::event(log::level::info, "transition",
             "orchd.pipeline: transition: task ", j.task_id, " ",
             j.work_item_id, ", ", to_string(j.from), " -> ", to_string(to),
             ": ", j.log, jobs);
  if (st.scheduler && !applied.enqueued.empty())
    self->send(st.scheduler, atom::wake_v);
  if (st.scheduler && !applied.to_stop.empty())
    self->send(st.scheduler, atom::stop_jobs_v, applied.to_stop);
  if (st.plane && calls_plane(j.actions))
    self->send(st.plane, atom::wake_v);
  if (st.settings.tracker)
    self->send(st.settings.tracker, atom::card_v, j.task_id, bumps(j.actions));
}

// Applies an event's transition to a task; `done(applied)`.
void apply(pipeline_pointer self, const task_row& task, pipeline::transition tr,
           std::function<void(bool)> done) {
  auto& st = self->state;
  if (tr.stale) {
    ++st.stale;
    log::info("orchd.pipeline: task ", task.id, " ", task.work_item_id, " (",
              to_string(task.stage), "): ", tr.log);
    return done(false);
  }
  judgement j;
  j.kind = judgement::accept;
  j.task_id = task.id;
  j.work_item_id = task.work_item_id;
  j.from = task.stage;
  j.actions = std::move(tr.actions);
  j.log = std::move(tr.log);
  set_attempts(st, j.actions);
  self->request(st.storage, st.settings.storage_timeout, atom::transition_v,
                j.task_id, j.from, j.actions)
      .then(
          [self, j, done](applied_transition& applied) {
            if (!applied.applied) {
              ++self->state.stale;
              log::info("orchd.pipeline: task ", j.task_id, " ", j.work_item_id,
                        " left ", to_string(j.from), " meanwhile; '", j.log,
                        "' not applied");
              return done(false);
            }
            after_applied(self, j, applied);
            done(true);
          },
          [j, done](const caf::error& err) {
            log::error("orchd.pipeline: task ", j.task_id, " ", j.work_item_id,
                       ": cannot apply '", j.log, "': ", describe(err));
            done(false);
          });
}

// Reads the task, runs the stage machine on `event_of(task)` and applies
// the transition.
void handle(pipeline_pointer self, int64_t task_id,
            std::function<pipeline::event(const task_row&)> event_of,
            std::function<void(bool)> done) {
  with_task(
      self, task_id,
      [self, event_of, done](task_row& task, task_pipeline& p) {
        auto& st = self->state;
        auto tr = pipeline::next(view_of(st, task, p), event_of(task),
                                 st.settings.limits);
        apply(self, task, std::move(tr), done);
      },
      [task_id, done](const caf::error& err) {
        log::error("orchd.pipeline: task ", task_id, ": ", describe(err));
        done(false);
      });
}

// The reviewer's newest Plane comment on the task's work item, for the
// analyst's rework ("" when Plane is not configured or does not answer).
std::string reviewer_comment(pipeline_pointer self, const task_row& task) {
  auto& st = self->state;
  auto& e = st.settings.plane;
  auto* project = project_of(st, task.repo);
  if (!st.settings.send || e.workspace_slug.empty() || e.api_key.empty() ||
      !project || task.plane_id.empty())
    return {};
  auto res = st.settings.send(
      plane::list_comments(e, project->plane_project_id, task.plane_id));
  if (res.status != 200) {
    log::warn("orchd.pipeline: task ", task.id,
              ": cannot read the reviewer's comments (",
              res.status == 0 ? res.error
                              : "HTTP " + std::to_string(res.status),
              "); the analyst runs again without them");
    return {};
  }
  return plane::latest_human_comment(res.body);
}

// What a task's job success means, before the job is finalised.
judgement judge(pipeline_pointer self, const job_row& job,
                const std::string& text, const task_row& task,
                const task_pipeline& p) {
  auto& st = self->state;
  judgement j;
  j.task_id = task.id;
  j.work_item_id = task.work_item_id;
  j.from = task.stage;
  auto* project = project_of(st, task.repo);
  if (!project) {
    j.log = "no project for " + task.repo;
    return j;
  }
  auto view = view_of(st, task, p);
  std::vector<stage_action> first;
  // The analyst's job runs once the worktree exists: a task still in
  // 'created' (the worktree event was lost in a crash) is in analysis.
  if (view.stage == task_stage::created &&
      job.agent == pipeline::agent_of(task_stage::analysis)) {
    view.stage = task_stage::analysis;
    first.push_back({stage_action::set_stage, task_stage::analysis});
  }
  pipeline::job_succeeded ev;
  ev.job_id = job.id;
  ev.agent = job.agent;
  ev.says = pipeline::parse_verdict(text);
  ev.result_text = text;
  auto worktree = worktree_of(st, *project, task);
  if (job.agent == "analyst")
    ev.brd_present = regular_file(worktree + "/" + view.brd_path);
  if (job.agent == "developer")
    ev.head_sha = head_of(worktree);
  auto tr = pipeline::next(view, ev, st.settings.limits);
  j.log = tr.log;
  if (tr.stale)
    return j; // plain
  for (auto& a : tr.actions) {
    if (a.kind == stage_action::job_fault) {
      j.kind = judgement::fault;
      j.reason = a.text;
      return j;
    }
    if (a.kind == stage_action::defer_job) {
      j.kind = judgement::defer;
      a.run_id = job.run_id.value_or(0);
      a.text = "deferred: " + tr.log;
      j.actions = {a};
      return j;
    }
  }
  j.kind = judgement::accept;
  stage_action finish{stage_action::finish_job};
  finish.job_id = job.id;
  finish.run_id = job.run_id.value_or(0);
  j.actions.push_back(finish);
  j.actions.insert(j.actions.end(), first.begin(), first.end());
  j.actions.insert(j.actions.end(), tr.actions.begin(), tr.actions.end());
  set_attempts(st, j.actions);
  return j;
}

std::string status_summary(const pipeline_state& st) {
  return nlohmann::json{{"transitions", st.transitions}, {"stale", st.stale}}
      .dump();
}

} // namespace

pipeline_actor::behavior_type stage_keeper(pipeline_pointer self,
                                           storage_actor storage,
                                           plane_outbox_actor plane,
                                           pipeline_settings settings) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.plane = std::move(plane);
  st.settings = std::move(settings);
  return counted(
      self->state.vitals,
      pipeline_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "pipeline",
                             status_summary(self->state));
          },
          [self](atom::judge, const job_row& job,
                 const std::string& text) -> caf::result<judgement> {
            if (!job.task_id)
              return judgement{};
            auto rp = self->make_response_promise<judgement>();
            with_task(
                self, *job.task_id,
                [self, rp, job, text](task_row& task,
                                      task_pipeline& p) mutable {
                  auto j = judge(self, job, text, task, p);
                  if (j.kind == judgement::plain || j.kind == judgement::fault)
                    log::info("orchd.pipeline: task ", task.id, " ",
                              task.work_item_id, " (", to_string(task.stage),
                              "): job ", job.id, " (", job.agent, "): ", j.log);
                  rp.deliver(std::move(j));
                },
                [rp](const caf::error& err) mutable { rp.deliver(err); });
            return rp;
          },
          [self](atom::applied, const judgement& j,
                 const applied_transition& applied) {
            after_applied(self, j, applied);
          },
          [self](atom::failed, const job_row& job) {
            if (!job.task_id)
              return;
            handle(
                self, *job.task_id,
                [job](const task_row&) -> pipeline::event {
                  return pipeline::job_failed{job.id, job.agent, job.error};
                },
                [](bool) {});
          },
          [self](atom::idle, const idle_task& t, int64_t max_retries) {
            pipeline::idle_past_grace ev{t.age_s, t.reconciles, max_retries};
            handle(
                self, t.task.id,
                [ev](const task_row&) -> pipeline::event { return ev; },
                [](bool) {});
          },
          [self](atom::worktree, int64_t task_id) {
            handle(
                self, task_id,
                [](const task_row&) -> pipeline::event {
                  return pipeline::worktree_made{};
                },
                [](bool) {});
          },
          [self](atom::moved, const work_item_move& move) -> caf::result<bool> {
            auto rp = self->make_response_promise<bool>();
            auto& st = self->state;
            self->request(st.storage, st.settings.storage_timeout,
                          atom::by_plane_v, move.plane_id)
                .then(
                    [self, rp, move](task_row& task) mutable {
                      auto& states = self->state.settings.states;
                      pipeline::work_item_moved ev;
                      ev.to = pipeline::classify_state(
                          move.state_name, move.state_group, states.approved,
                          states.rework);
                      if (ev.to == pipeline::work_item_moved::to_t::rework)
                        ev.latest_comment = reviewer_comment(self, task);
                      handle(
                          self, task.id,
                          [ev](const task_row&) -> pipeline::event {
                            return ev;
                          },
                          [rp](bool applied) mutable { rp.deliver(applied); });
                    },
                    [rp](const caf::error& err) mutable {
                      if (err == ec::no_such_task)
                        rp.deliver(false);
                      else
                        rp.deliver(err);
                    });
            return rp;
          },
          [self](atom::ci_result, const ci_outcome& ci) -> caf::result<bool> {
            if (!ci.task_id || ci.result.empty())
              return false;
            auto rp = self->make_response_promise<bool>();
            handle(
                self, *ci.task_id,
                [ci](const task_row&) -> pipeline::event {
                  return pipeline::ci_result{ci.sha, ci.result, ci.check_name,
                                             ci.conclusion, ci.url};
                },
                [rp](bool applied) mutable { rp.deliver(applied); });
            return rp;
          },
          [self](atom::attach, const caf::actor& scheduler) {
            self->state.scheduler = caf::actor_cast<scheduler_actor>(scheduler);
          },
      });
}

pipeline_actor spawn_pipeline(caf::actor_system& sys, storage_actor storage,
                              plane_outbox_actor plane,
                              pipeline_settings settings) {
  return sys.spawn<caf::detached>(stage_keeper, std::move(storage),
                                  std::move(plane), std::move(settings));
}

} // namespace orchd
