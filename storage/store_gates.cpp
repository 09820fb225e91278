// The tables the claim's gates read: dependency edges between tasks and
// the repo freeze journal.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "storage/database.hpp"
#include "storage/rows.hpp"

#include <map>

namespace orchd::storage {

// -- dependencies -----------------------------------------------------------

caf::expected<bool> store::add_dependency(int64_t task_id,
                                          int64_t depends_on_task_id) {
  if (task_id == depends_on_task_id)
    return invalid("task " + std::to_string(task_id) +
                   " cannot depend on itself");
  auto q = db_.prepare("INSERT OR IGNORE INTO job_deps "
                       "(task_id, depends_on_task_id) VALUES (?1, ?2)");
  q->bind(1, task_id);
  q->bind(2, depends_on_task_id);
  q->step();
  return db_.changes() > 0;
}

caf::expected<bool> store::declare_dependency(int64_t task_id,
                                              int64_t depends_on_task_id) {
  for (auto id : {task_id, depends_on_task_id})
    if (auto task = task_by_id(id); !task)
      return task.error();
  if (task_id == depends_on_task_id)
    return caf::make_error(ec::dependency_cycle,
                           "task " + std::to_string(task_id) +
                               " cannot depend on itself");
  // Walk "waits for" edges from the new dependency: reaching task_id means
  // the new edge would close a cycle; the path found names it.
  auto q = db_.prepare("SELECT depends_on_task_id FROM job_deps "
                       "WHERE task_id = ?1 ORDER BY depends_on_task_id");
  std::map<int64_t, int64_t> came_from{{depends_on_task_id, 0}};
  std::vector<int64_t> frontier{depends_on_task_id};
  while (!frontier.empty()) {
    auto at = frontier.back();
    frontier.pop_back();
    q->reset();
    q->bind(1, at);
    while (q->step()) {
      auto next = q->int64(0);
      if (!came_from.emplace(next, at).second)
        continue;
      if (next != task_id) {
        frontier.push_back(next);
        continue;
      }
      // task -> dependency -> ... -> at -> task: "a waits for b waits ...".
      std::vector<int64_t> path{task_id};
      for (auto p = at; p != 0; p = came_from[p])
        path.push_back(p);
      auto text = std::to_string(task_id);
      for (auto it = path.rbegin(); it != path.rend(); ++it)
        text += " -> " + std::to_string(*it);
      return caf::make_error(ec::dependency_cycle,
                             "the edge would close the cycle " + text);
    }
  }
  return add_dependency(task_id, depends_on_task_id);
}

namespace {

// The legacy reads never raised: a failed dependency read means "none".
template <class F>
auto or_empty(const char* what, F read) -> decltype(read()) {
  try {
    return read();
  } catch (const sql_error& e) {
    log::warn("orchd.storage: reading ", what,
              " failed, treating as none: ", e.what());
    return {};
  }
}

std::vector<dep_edge> read_edges(statement& s) {
  std::vector<dep_edge> result;
  while (s.step())
    result.push_back(dep_edge{s.int64(0), s.int64(1), s.text(2)});
  return result;
}

} // namespace

std::vector<dep_edge> store::dependencies_of(int64_t task_id) {
  return or_empty("dependencies", [&] {
    auto q = db_.prepare("SELECT task_id, depends_on_task_id, created_at "
                         "FROM job_deps WHERE task_id = ?1 "
                         "ORDER BY depends_on_task_id");
    q->bind(1, task_id);
    return read_edges(*q);
  });
}

std::vector<dep_edge> store::all_dependencies() {
  return or_empty("dependencies", [&] {
    auto q = db_.prepare("SELECT task_id, depends_on_task_id, created_at "
                         "FROM job_deps ORDER BY task_id, "
                         "depends_on_task_id");
    return read_edges(*q);
  });
}

std::vector<int64_t> store::unfinished_dependencies(int64_t task_id) {
  return or_empty("unfinished dependencies", [&] {
    auto q = db_.prepare(
        "SELECT d.depends_on_task_id FROM job_deps d "
        "JOIN tasks t ON t.id = d.depends_on_task_id "
        "WHERE d.task_id = ?1 AND t.stage NOT IN " ORCHD_FINISHED_STAGES " "
        "ORDER BY d.depends_on_task_id");
    q->bind(1, task_id);
    std::vector<int64_t> result;
    while (q->step())
      result.push_back(q->int64(0));
    return result;
  });
}

// -- repo freezes -----------------------------------------------------------

caf::expected<int64_t> store::freeze_repo(const std::string& repo,
                                          const std::string& reason,
                                          const std::string& work_item_id) {
  if (repo.empty())
    return invalid("a freeze needs a repo");
  auto q = db_.prepare("INSERT INTO repo_freeze (repo, reason, work_item_id) "
                       "VALUES (?1, ?2, ?3)");
  q->bind(1, std::string_view{repo});
  q->bind_text_or_null(2, reason);
  q->bind_text_or_null(3, work_item_id);
  q->step();
  return db_.last_insert_rowid();
}

int64_t store::unfreeze_repo(const std::string& repo) {
  auto q = db_.prepare("UPDATE repo_freeze SET cleared_at = datetime('now') "
                       "WHERE repo = ?1 AND cleared_at IS NULL");
  q->bind(1, std::string_view{repo});
  q->step();
  return db_.changes();
}

std::vector<freeze_row> store::active_freezes() {
  auto q = db_.prepare("SELECT id, repo, frozen_at, reason, work_item_id, "
                       "cleared_at FROM repo_freeze WHERE cleared_at IS NULL "
                       "ORDER BY id");
  std::vector<freeze_row> result;
  while (q->step())
    result.push_back(freeze_row{q->int64(0), q->text(1), q->text(2), q->text(3),
                                q->text(4), q->text(5)});
  return result;
}

} // namespace orchd::storage
