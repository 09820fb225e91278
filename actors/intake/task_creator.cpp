#include "actors/intake/task_creator.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/economics.hpp"
#include "actors/logic/pipeline.hpp"
#include "actors/logic/webhook_payload.hpp"
#include "actors/os/worktree.hpp"

#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace orchd {

bool trigger_matches(const project_config& p, const plane_event& ev) {
  auto& states = p.trigger_states;
  bool state_ok =
      states.empty() ||
      std::any_of(states.begin(), states.end(), [&](const std::string& s) {
        return s == ev.state_name || s == ev.state_group;
      });
  auto& labels = p.trigger_labels;
  bool label_ok =
      labels.empty() ||
      std::any_of(
          ev.labels.begin(), ev.labels.end(), [&](const std::string& l) {
            return std::find(labels.begin(), labels.end(), l) != labels.end();
          });
  return state_ok && label_ok;
}

work_item_request make_work_item_request(const project_config& p,
                                         const plane_event& ev,
                                         int64_t first_max_attempts) {
  work_item_request x;
  x.plane_id = ev.work_item_id;
  x.repo = p.repo;
  x.prefix = p.prefix;
  x.sequence_id = ev.sequence_id;
  x.sequential = p.numbering == "sequential";
  x.branch_prefix = p.branch_prefix;
  x.title_slug = slugify(ev.name);
  x.title = ev.name;
  x.first_agent = p.first_agent;
  x.first_content = ev.name;
  if (!ev.description.empty())
    x.first_content += "\n\n" + ev.description;
  x.first_max_attempts = first_max_attempts;
  x.depends_on = pipeline::parse_depends_on(ev.description);
  // Its own `Budget: $N` line, else the project's default (0: none).
  x.budget_usd = economics::budget_in(ev.description);
  if (!x.budget_usd && p.budget_usd > 0)
    x.budget_usd = p.budget_usd;
  return x;
}

namespace {

using creator_pointer = task_creator_pointer;

constexpr auto storage_timeout = std::chrono::seconds(30);

void mark_handled(creator_pointer self, int64_t event_id) {
  self->request(self->state.storage, storage_timeout, atom::handled_v, event_id)
      .then([](bool) {},
            [event_id](const caf::error& err) {
              // Left unhandled: handled again at the next start.
              log::error("orchd.task_creator: cannot mark event ", event_id,
                         " handled: ", describe(err));
            });
}

const project_config* find_project(const task_creator_state& st,
                                   const std::string& plane_project_id) {
  for (auto& p : st.projects)
    if (p.plane_project_id == plane_project_id)
      return &p;
  return nullptr;
}

// The worktree of a task, as its project and row describe it.
worktree_spec spec_of(const task_creator_state& st, const project_config& p,
                      const task_row& task) {
  worktree_spec spec;
  spec.clone_path = p.clone_path;
  spec.workspace_root = st.workspace_root;
  spec.repo = p.repo;
  spec.task_folder = p.task_folder;
  spec.title = task.title;
  spec.branch = task.branch;
  spec.work_item_id = task.work_item_id;
  return spec;
}

void set_stage(creator_pointer self, int64_t task_id, task_stage stage) {
  self->request(self->state.storage, storage_timeout, atom::set_stage_v,
                task_id, stage)
      .then([](bool) {},
            [task_id](const caf::error& err) {
              log::error("orchd.task_creator: cannot set the stage of task ",
                         task_id, ": ", describe(err));
            });
}

// Makes the task's worktree (idempotent). On success a task whose setup had
// failed is back in 'created' and the scheduler hears of a new worktree;
// on failure the task is in 'setup_failed' and a retry is scheduled, with
// backoff, while tries are left. Answers whether the worktree exists.
bool make_worktree(creator_pointer self, const task_row& task,
                   const worktree_spec& spec) {
  auto& st = self->state;
  bool had_worktree = worktree_exists(spec);
  auto path = ensure_worktree(spec);
  if (path) {
    st.setup_tries.erase(task.id);
    if (task.stage == task_stage::setup_failed) {
      log::info("orchd.task_creator: task ", task.id, " ", task.work_item_id,
                ": setup made good");
      set_stage(self, task.id, task_stage::created);
    }
    // Its first job can run now that the worktree exists (a later update
    // of the item changes nothing).
    if (!had_worktree && st.scheduler)
      self->send(st.scheduler, atom::wake_v);
    // created -> analysis (a task already past it ignores this).
    if (st.pipeline && (task.stage == task_stage::created ||
                        task.stage == task_stage::setup_failed))
      self->send(st.pipeline, atom::worktree_v, task.id);
    return true;
  }
  ++st.setup_failures;
  auto tries = st.setup_tries[task.id]++;
  log::error("orchd.task_creator: task ", task.id, " ", task.work_item_id, ": ",
             describe(path.error()));
  // Visible on the task (GET /tasks/{id}); tried again after a backoff, at
  // the work item's next event, or at POST /tasks/{id}/retry-setup.
  if (task.stage != task_stage::setup_failed)
    set_stage(self, task.id, task_stage::setup_failed);
  if (tries < st.setup_retries) {
    auto delay = st.setup_backoff * (int64_t{1} << tries);
    log::info("orchd.task_creator: task ", task.id, ": setup tried again in ",
              delay.count(), " s (", tries + 1, " of ", st.setup_retries, ")");
    self->delayed_send(self, delay, atom::setup_v, task.id);
  } else {
    log::warn("orchd.task_creator: task ", task.id,
              ": setup retries spent; waiting for the work item's next event "
              "or POST /tasks/",
              task.id, "/retry-setup");
  }
  return false;
}

// Tries a task's setup again; `done` gets the task as it is after it.
void retry_setup(creator_pointer self, int64_t task_id,
                 std::function<void(caf::expected<task_row>)> done) {
  self->request(self->state.storage, storage_timeout, atom::task_by_id_v,
                task_id)
      .then(
          [self, done](task_row& task) {
            auto& st = self->state;
            auto* project = project_of_repo(st.projects, task.repo);
            if (task.stage != task_stage::setup_failed || !project) {
              // Made good meanwhile (or no longer configured): nothing to do.
              st.setup_tries.erase(task.id);
              return done(std::move(task));
            }
            if (make_worktree(self, task, spec_of(st, *project, task)))
              task.stage = task_stage::created;
            done(std::move(task));
          },
          [done](const caf::error& err) { done(err); });
}

// A work item in the project's trigger gets its task (once), its worktree
// and its first job; the event is then handled.
void create(creator_pointer self, int64_t event_id, const project_config& p,
            const plane_event& ev) {
  auto& st = self->state;
  auto* project = &p;
  if (!trigger_matches(p, ev))
    return mark_handled(self, event_id);
  auto request =
      make_work_item_request(p, ev, st.max_attempts_of(p.first_agent));
  // The task folder's README says what the event says.
  auto title = ev.name;
  auto text = ev.description;
  // The storage actor answers in request order, and each answer's
  // follow-up (git included) runs to its end before the next one: no
  // two creations interleave, without holding back the mailbox (an
  // await would park every later message in a cache CAF rescans).
  self->request(st.storage, storage_timeout, atom::make_task_v, request)
      .then(
          [self, event_id, project, title, text](task_claim& claim) {
            auto& task = claim.task;
            // The creator makes the worktree; a task still in 'created'
            // (a crash after the commit, or a failed git) gets it again.
            if (claim.created || task.stage == task_stage::created ||
                task.stage == task_stage::setup_failed) {
              auto spec = spec_of(self->state, *project, task);
              spec.title = title;
              spec.text = text;
              if (make_worktree(self, task, spec) && claim.created) {
                ++self->state.created;
                log::info("orchd.task_creator: task ", task.id, " ",
                          task.work_item_id, " on ", task.branch);
              }
            }
            mark_handled(self, event_id);
          },
          [event_id](const caf::error& err) {
            log::error(
                "orchd.task_creator: event ", event_id,
                " not handled (retried at the next start): ", describe(err));
          });
}

std::string status_summary(const task_creator_state& st) {
  return nlohmann::json{{"created", st.created},
                        {"setup_failures", st.setup_failures},
                        {"setups_retrying", st.setup_tries.size()}}
      .dump();
}

} // namespace

task_creator_actor::behavior_type
task_creator(creator_pointer self, storage_actor storage, config cfg,
             scheduler_actor scheduler, pipeline_actor pipeline) {
  self->state.scheduler = std::move(scheduler);
  self->state.pipeline = std::move(pipeline);
  self->state.storage = std::move(storage);
  self->state.projects = cfg.projects;
  self->state.workspace_root = cfg.workspace_root;
  for (auto& [name, agent] : cfg.agents)
    self->state.max_attempts[name] = agent.max_attempts;
  return counted(
      self->state.vitals,
      task_creator_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "task_creator",
                             status_summary(self->state));
          },
          [self](atom::setup, int64_t task_id, reply_to<task_row>& reply) {
            // The operator's retry starts a fresh series of tries.
            self->state.setup_tries.erase(task_id);
            retry_setup(self, task_id, reply.deliver);
          },
          [self](atom::setup, int64_t task_id) {
            retry_setup(self, task_id, [](const caf::expected<task_row>&) {});
          },
          [self](atom::handle, int64_t event_id, const std::string& payload) {
            auto& st = self->state;
            auto ev = parse_plane_event(payload);
            if (!ev)
              log::error("orchd.task_creator: event ", event_id,
                         " cannot be read: ", describe(ev.error()));
            const project_config* project = nullptr;
            if (ev)
              project = find_project(st, ev->project_id);
            if (!ev || ev->event != "issue" || ev->action == "deleted" ||
                !project) {
              if (ev && !project)
                log::debug("orchd.task_creator: no project for Plane project ",
                           ev->project_id);
              return mark_handled(self, event_id);
            }
            if (!st.pipeline || ev->state_name.empty())
              return create(self, event_id, *project, *ev);
            // A work item that has a task: its move is the pipeline's (a human
            // approving the BRD, asking for rework, cancelling).
            work_item_move move{ev->work_item_id, ev->state_name,
                                ev->state_group};
            self->request(st.pipeline, storage_timeout, atom::moved_v, move)
                .then([self, event_id, project,
                       ev](bool) { create(self, event_id, *project, *ev); },
                      [self, event_id, project, ev](const caf::error& err) {
                        log::error("orchd.task_creator: event ", event_id,
                                   ": the pipeline could not take the move: ",
                                   describe(err));
                        create(self, event_id, *project, *ev);
                      });
          },
      });
}

task_creator_actor spawn_task_creator(caf::actor_system& sys,
                                      storage_actor storage, const config& cfg,
                                      scheduler_actor scheduler,
                                      pipeline_actor pipeline) {
  return sys.spawn<caf::detached>(task_creator, std::move(storage), cfg,
                                  std::move(scheduler), std::move(pipeline));
}

} // namespace orchd
