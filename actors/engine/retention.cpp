#include "actors/engine/retention.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/os/worktree.hpp"

#include <caf/actor_system.hpp>

#include <nlohmann/json.hpp>

#include <ctime>

namespace orchd {

namespace {

void clear_payloads(retention_pointer self) {
  auto days = self->state.settings.event_payload_days;
  self->request(self->state.storage, self->state.settings.storage_timeout,
                atom::prune_v, days)
      .then(
          [days](int64_t cleared) {
            if (cleared > 0)
              log::info("orchd.retention: emptied the payloads of ", cleared,
                        " handled events older than ", days,
                        " days (their rows and keys stay)");
          },
          [](const caf::error& err) {
            log::warn("orchd.retention: cannot empty old event payloads "
                      "(the next sweep tries again): ",
                      describe(err));
          });
}

void remove_run_logs(retention_pointer self) {
  auto& s = self->state.settings;
  auto removed = remove_files_older_than(s.output_dir, {".log", ".task"},
                                         s.run_log_days, std::time(nullptr));
  if (removed > 0)
    log::info("orchd.retention: removed ", removed,
              " run logs and task files older than ", s.run_log_days,
              " days from ", s.output_dir);
}

void remove_worktrees(retention_pointer self) {
  auto days = self->state.settings.worktree_days;
  self->request(self->state.storage, self->state.settings.storage_timeout,
                atom::finished_v, days)
      .then(
          [self, days](const std::vector<task_row>& tasks) {
            auto& s = self->state.settings;
            for (auto& t : tasks) {
              auto clone = s.clones.find(t.repo);
              if (clone == s.clones.end())
                continue; // a repo no longer configured: not ours to touch
              worktree_spec spec;
              spec.clone_path = clone->second;
              spec.workspace_root = s.workspace_root;
              spec.repo = t.repo;
              spec.branch = t.branch;
              spec.work_item_id = t.work_item_id;
              if (!worktree_exists(spec))
                continue;
              if (auto err = remove_worktree(spec))
                log::warn("orchd.retention: cannot remove the worktree of ",
                          t.work_item_id, ": ", describe(err));
              else
                log::info("orchd.retention: removed the worktree of ",
                          t.work_item_id, " (", to_string(t.stage),
                          " more than ", days, " days ago; branch ", t.branch,
                          " kept)");
            }
          },
          [](const caf::error& err) {
            log::warn("orchd.retention: cannot list finished tasks (the next "
                      "sweep tries again): ",
                      describe(err));
          });
}

void sweep(retention_pointer self) {
  auto& s = self->state.settings;
  if (s.event_payload_days > 0)
    clear_payloads(self);
  if (s.run_log_days > 0)
    remove_run_logs(self);
  if (s.worktree_days > 0)
    remove_worktrees(self);
}

std::string status_summary(const retention_state& st) {
  auto& s = st.settings;
  return nlohmann::json{{"interval_s", s.interval.count()},
                        {"event_payload_days", s.event_payload_days},
                        {"run_log_days", s.run_log_days},
                        {"worktree_days", s.worktree_days}}
      .dump();
}

} // namespace

retention_actor::behavior_type retention(retention_pointer self,
                                         storage_actor storage,
                                         retention_settings settings) {
  self->state.storage = std::move(storage);
  self->state.settings = std::move(settings);
  // The first sweep at start: a daemon restarted often still prunes.
  self->send(self, atom::tick_v);
  return counted(self->state.vitals,
                 retention_actor::behavior_type{
                     [self](atom::status) {
                       return status_of(self, self->state.vitals, "retention",
                                        status_summary(self->state));
                     },
                     [self](atom::tick) {
                       sweep(self);
                       self->delayed_send(self, self->state.settings.interval,
                                          atom::tick_v);
                     },
                 });
}

retention_actor spawn_retention(caf::actor_system& sys,
                                const storage_actor& storage,
                                retention_settings settings) {
  return sys.spawn<caf::detached>(retention, storage, std::move(settings));
}

} // namespace orchd
