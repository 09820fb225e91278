#include "actors/intake/ci_events.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/webhook_payload.hpp"
#include "actors/os/worktree.hpp"

#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <sstream>

namespace orchd {

std::vector<std::string> parse_remote_branches(const std::string& output) {
  std::vector<std::string> result;
  std::istringstream lines{output};
  for (std::string line; std::getline(lines, line);) {
    auto begin = line.find_first_not_of(" *");
    if (begin == std::string::npos || line.find(" -> ") != std::string::npos)
      continue;
    auto name = line.substr(begin);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\r'))
      name.pop_back();
    auto slash = name.find('/');
    if (slash == std::string::npos || slash + 1 == name.size())
      continue;
    result.push_back(name.substr(slash + 1));
  }
  return result;
}

namespace {

using ci_pointer = ci_events_pointer;

constexpr auto storage_timeout = std::chrono::seconds(30);

void store_outcome(ci_pointer self, ci_outcome outcome);

// A result mapped to a task is the pipeline's first; the event is marked
// handled after it answered, so a crash in between replays it (and the
// pipeline finds the replay stale).
void record(ci_pointer self, ci_outcome outcome) {
  auto& st = self->state;
  if (!st.pipeline || !outcome.task_id || outcome.result.empty())
    return store_outcome(self, std::move(outcome));
  self->request(st.pipeline, storage_timeout, atom::ci_result_v, outcome)
      .then([self, outcome](bool) { store_outcome(self, outcome); },
            [self, outcome](const caf::error& err) {
              log::error("orchd.ci_events: event ", outcome.event_id,
                         ": the pipeline could not take it: ", describe(err));
              store_outcome(self, outcome);
            });
}

void store_outcome(ci_pointer self, ci_outcome outcome) {
  if (outcome.task_id)
    ++self->state.resolved;
  else
    ++self->state.unresolved;
  log::info("orchd.ci_events: event ", outcome.event_id, " -> task ",
            outcome.task_id ? std::to_string(*outcome.task_id)
                            : std::string{"none"},
            " (", outcome.result.empty() ? "no result" : outcome.result, ")");
  auto id = outcome.event_id;
  self->request(self->state.storage, storage_timeout, atom::ci_result_v,
                std::move(outcome))
      .then([](bool) {},
            [id](const caf::error& err) {
              log::error("orchd.ci_events: cannot record event ", id, ": ",
                         describe(err));
            });
}

// Last resort: the repo's only task waiting for CI (stage `ci`), else its
// only task in `development` (the legacy rule, for tasks it left there).
void resolve_by_stage(ci_pointer self, ci_outcome outcome,
                      const std::string& repo,
                      task_stage stage = task_stage::ci) {
  self->request(self->state.storage, storage_timeout, atom::in_stage_v, repo,
                stage)
      .then(
          [self, outcome, repo, stage](std::vector<task_row>& tasks) mutable {
            if (tasks.empty() && stage == task_stage::ci)
              return resolve_by_stage(self, std::move(outcome), repo,
                                      task_stage::development);
            if (tasks.size() == 1) {
              outcome.task_id = tasks[0].id;
              outcome.branch = tasks[0].branch;
            } else {
              log::warn(
                  "orchd.ci_events: event ", outcome.event_id, " of ", repo,
                  tasks.empty() ? " matches no task"
                                : std::string{" is ambiguous (several "
                                              "tasks in "} +
                                      to_string(stage) + "); left unresolved");
            }
            record(self, std::move(outcome));
          },
          [self, outcome](const caf::error& err) mutable {
            log::error("orchd.ci_events: ", describe(err));
            record(self, std::move(outcome));
          });
}

// Then the branches that contain the commit, from the project's clone.
void resolve_by_commit(ci_pointer self, ci_outcome outcome,
                       const std::string& repo, const std::string& sha,
                       const std::string& clone) {
  std::vector<std::string> branches;
  if (!sha.empty() && !clone.empty()) {
    auto out =
        run_command({"git", "-C", clone, "branch", "-r", "--contains", sha});
    if (out.exit_code == 0)
      branches = parse_remote_branches(out.output);
  }
  if (branches.empty())
    return resolve_by_stage(self, std::move(outcome), repo);
  self->request(self->state.storage, storage_timeout, atom::on_branch_v, repo,
                branches)
      .then(
          [self, outcome](task_row& t) mutable {
            outcome.task_id = t.id;
            outcome.branch = t.branch;
            record(self, std::move(outcome));
          },
          [self, outcome, repo](const caf::error&) mutable {
            resolve_by_stage(self, std::move(outcome), repo);
          });
}

std::string status_summary(const ci_events_state& st) {
  return nlohmann::json{{"resolved", st.resolved},
                        {"unresolved", st.unresolved}}
      .dump();
}

} // namespace

ci_events_actor::behavior_type ci_events(ci_pointer self, storage_actor storage,
                                         config cfg, pipeline_actor pipeline) {
  self->state.storage = std::move(storage);
  self->state.pipeline = std::move(pipeline);
  self->state.projects = cfg.projects;
  return counted(
      self->state.vitals,
      ci_events_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "ci_events",
                             status_summary(self->state));
          },
          [self](atom::handle, int64_t event_id, const std::string& kind,
                 const std::string& payload) {
            ci_outcome outcome;
            outcome.event_id = event_id;
            if (!is_ci_event_kind(kind))
              return record(self, std::move(outcome));
            auto ev = parse_github_event(kind, payload);
            if (!ev)
              return record(self, std::move(outcome));
            outcome.result = ev->result;
            outcome.sha = ev->sha;
            outcome.check_name = ev->check_name;
            outcome.conclusion = ev->conclusion;
            outcome.url = ev->url;
            if (!ev->branches.empty())
              outcome.branch = ev->branches.front();
            auto* project = project_of_repo(self->state.projects, ev->repo);
            auto clone = project ? project->clone_path : std::string{};
            // The branches the payload names are where CI ran: when none of
            // them is a task's, the event is not a task's (a run on main, say),
            // and guessing from commits or stages would pin it on the wrong
            // task (every task branch contains main's older commits).
            if (ev->branches.empty())
              return resolve_by_commit(self, std::move(outcome), ev->repo,
                                       ev->sha, clone);
            self->request(self->state.storage, storage_timeout,
                          atom::on_branch_v, ev->repo, ev->branches)
                .then(
                    [self, outcome](task_row& t) mutable {
                      outcome.task_id = t.id;
                      outcome.branch = t.branch;
                      record(self, std::move(outcome));
                    },
                    [self, outcome](const caf::error& err) mutable {
                      if (err != ec::no_such_task)
                        log::error("orchd.ci_events: ", describe(err));
                      record(self, std::move(outcome));
                    });
          },
      });
}

ci_events_actor spawn_ci_events(caf::actor_system& sys, storage_actor storage,
                                const config& cfg, pipeline_actor pipeline) {
  return sys.spawn<caf::detached>(ci_events, std::move(storage), cfg,
                                  std::move(pipeline));
}

} // namespace orchd
