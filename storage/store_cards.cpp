// The Telegram card ledger (legacy `tracker_messages` and
// `tasks.tracker_message_id`) and what a task's card is rendered from.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "storage/database.hpp"

namespace orchd::storage {

caf::expected<caf::optional<int64_t>> store::tracker_message(int64_t task_id) {
  auto q = db_.prepare("SELECT tracker_message_id FROM tasks WHERE id = ?1");
  q->bind(1, task_id);
  if (!q->step())
    return caf::make_error(ec::no_such_task, "task " + std::to_string(task_id));
  return q->opt_int64(0);
}

caf::expected<bool> store::set_tracker_message(int64_t task_id,
                                               int64_t message_id) {
  auto q =
      db_.prepare("UPDATE tasks SET tracker_message_id = ?2 WHERE id = ?1");
  q->bind(1, task_id);
  q->bind(2, message_id);
  q->step();
  return db_.changes() > 0;
}

bool store::add_tracker_card(int64_t task_id, int64_t message_id) {
  auto q = db_.prepare("INSERT OR IGNORE INTO tracker_messages "
                       "(task_id, message_id) VALUES (?1, ?2)");
  q->bind(1, task_id);
  q->bind(2, message_id);
  q->step();
  return db_.changes() > 0;
}

std::vector<int64_t> store::open_tracker_cards(int64_t task_id) {
  auto q = db_.prepare("SELECT message_id FROM tracker_messages "
                       "WHERE task_id = ?1 AND deleted_at IS NULL "
                       "ORDER BY message_id");
  q->bind(1, task_id);
  std::vector<int64_t> result;
  while (q->step())
    result.push_back(q->int64(0));
  return result;
}

bool store::mark_tracker_card_deleted(int64_t task_id, int64_t message_id) {
  auto q = db_.prepare("UPDATE tracker_messages SET deleted_at = "
                       "datetime('now') WHERE task_id = ?1 AND "
                       "message_id = ?2 AND deleted_at IS NULL");
  q->bind(1, task_id);
  q->bind(2, message_id);
  q->step();
  return db_.changes() > 0;
}

caf::expected<bool> store::record_tracker_card(int64_t task_id,
                                               int64_t message_id) {
  auto set = set_tracker_message(task_id, message_id);
  if (!set)
    return set.error();
  if (!*set)
    return caf::make_error(ec::no_such_task, "task " + std::to_string(task_id));
  return add_tracker_card(task_id, message_id);
}

caf::expected<card_facts> store::card_facts_of(int64_t task_id) {
  auto detail = task_detail_of(task_id);
  if (!detail)
    return detail.error();
  card_facts x;
  x.detail = std::move(*detail);
  auto running = db_.prepare(
      "SELECT agent, started_at FROM jobs WHERE status = 'running' AND "
      "task_id = ?1 ORDER BY id DESC LIMIT 1");
  running->bind(1, task_id);
  if (running->step()) {
    x.running_agent = running->text(0);
    x.running_since = running->text(1);
  }
  auto held = db_.prepare(
      "SELECT MIN(available_at) FROM jobs WHERE status = 'queued' AND "
      "task_id = ?1 AND available_at > datetime('now')");
  held->bind(1, task_id);
  if (held->step() && !held->is_null(0))
    x.deferred_until = held->text(0);
  auto deps = db_.prepare(
      "SELECT t.work_item_id FROM job_deps d JOIN tasks t ON t.id = "
      "d.depends_on_task_id WHERE d.task_id = ?1 AND t.stage != 'done' "
      "UNION SELECT work_item_id FROM work_item_deps WHERE task_id = ?1 AND "
      "resolved_at IS NULL ORDER BY 1");
  deps->bind(1, task_id);
  while (deps->step())
    x.blocked_by.push_back(deps->text(0));
  // Held by a freeze: its repo is frozen and the task caused the freeze or
  // has a job waiting in the queue.
  auto frozen = db_.prepare(
      "SELECT f.reason FROM repo_freeze f WHERE f.repo = ?2 AND "
      "f.cleared_at IS NULL AND (f.work_item_id = ?3 OR EXISTS (SELECT 1 "
      "FROM jobs j WHERE j.status = 'queued' AND j.task_id = ?1)) "
      "ORDER BY f.id DESC LIMIT 1");
  frozen->bind(1, task_id);
  frozen->bind(2, std::string_view{x.detail.task.repo});
  frozen->bind(3, std::string_view{x.detail.task.work_item_id});
  if (frozen->step())
    x.frozen = frozen->is_null(0) ? "frozen" : frozen->text(0);
  x.open = open_tracker_cards(task_id);
  return x;
}

std::vector<card_due> store::cards_due(bool everything) {
  // Finished and changed after its card; more than one open card; with
  // `everything`, also every unfinished task with a card or changed lately.
  auto q = db_.prepare(
      "SELECT t.id, t.stage IN ('done', 'cancelled'), "
      "(m.created_at IS NULL OR m.created_at < t.updated_at), "
      "(SELECT COUNT(*) FROM tracker_messages o WHERE o.task_id = t.id AND "
      "o.deleted_at IS NULL) FROM tasks t LEFT JOIN tracker_messages m ON "
      "m.task_id = t.id AND m.message_id = t.tracker_message_id "
      "WHERE t.updated_at >= datetime('now', '-1 day') OR EXISTS (SELECT 1 "
      "FROM tracker_messages o WHERE o.task_id = t.id AND o.deleted_at IS "
      "NULL AND o.message_id IS NOT t.tracker_message_id) OR "
      "(t.tracker_message_id IS NOT NULL AND t.stage NOT IN ('done', "
      "'cancelled')) ORDER BY t.id");
  std::vector<card_due> out;
  while (q->step()) {
    auto finished = q->int64(1) != 0;
    auto stale = q->int64(2) != 0;
    auto doubled = q->int64(3) > 1;
    if (finished && stale)
      out.push_back({q->int64(0), true, true});
    else if (everything && !finished)
      out.push_back({q->int64(0), false, true});
    else if (doubled)
      out.push_back({q->int64(0), false, false});
  }
  return out;
}

} // namespace orchd::storage
