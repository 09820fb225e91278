// The store's pipeline operation: a transition's actions in one write.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "storage/rows.hpp"

#include <algorithm>

namespace orchd::storage {

caf::expected<task_detail> store::task_with_pipeline(int64_t task_id) {
  auto q = db_.prepare("SELECT " ORCHD_TASK_COLUMNS ", waiting, expected_sha, "
                       "ci_failures, review_rounds, stuck_reason FROM tasks "
                       "WHERE id = ?1");
  q->bind(1, task_id);
  if (!q->step())
    return caf::make_error(ec::no_such_task, "task " + std::to_string(task_id));
  task_detail d;
  d.task = read_task(*q);
  auto& x = d.pipeline;
  x.waiting = parse_task_wait(q->text(14));
  x.expected_sha = q->text(15);
  x.ci_failures = q->int64(16);
  x.review_rounds = q->int64(17);
  x.stuck_reason = q->text(18);
  return d;
}

caf::expected<task_pipeline> store::pipeline_state(int64_t task_id) {
  auto d = task_with_pipeline(task_id);
  if (!d)
    return d.error();
  auto x = std::move(d->pipeline);
  auto h = db_.prepare("SELECT from_stage, to_stage, at FROM stage_history "
                       "WHERE task_id = ?1 ORDER BY id");
  h->bind(1, task_id);
  while (h->step())
    x.history.push_back(h->text(0) + ">" + h->text(1) + "@" + h->text(2));
  return x;
}

caf::expected<applied_transition>
store::apply_transition(int64_t task_id, task_stage from,
                        const std::vector<stage_action>& actions) {
  auto task = task_by_id(task_id);
  if (!task)
    return task.error();
  applied_transition out;
  if (task->stage != from)
    return out;
  auto exec = [&](const char* sql, auto&& bind) {
    auto q = db_.prepare(sql);
    q->bind(1, task_id);
    bind(*q);
    q->step();
  };
  auto none = [](statement&) {
  };
  auto current = from;
  // The job guards first: a transition whose job was finalised elsewhere
  // writes nothing at all, whoever calls it.
  auto guards_first = actions;
  std::stable_partition(guards_first.begin(), guards_first.end(), [](auto& a) {
    return a.kind == stage_action::finish_job ||
           a.kind == stage_action::defer_job;
  });
  for (auto& a : guards_first) {
    switch (a.kind) {
    case stage_action::set_stage:
      if (a.stage == task_stage::unknown)
        return invalid("the unknown stage is never written");
      exec("UPDATE tasks SET stage = ?2, updated_at = datetime('now'), "
           "waiting = NULL, stuck_reason = NULL WHERE id = ?1",
           [&](statement& q) {
             q.bind(2, std::string_view{to_string(a.stage)});
           });
      exec("INSERT INTO stage_history (task_id, from_stage, to_stage) "
           "VALUES (?1, ?2, ?3)",
           [&](statement& q) {
             q.bind(2, std::string_view{to_string(current)});
             q.bind(3, std::string_view{to_string(a.stage)});
           });
      current = a.stage;
      break;
    case stage_action::enqueue: {
      // The work item's text (its first job's content), and what this
      // round adds.
      auto first = db_.prepare("SELECT task_content FROM jobs WHERE "
                               "task_id = ?1 ORDER BY id LIMIT 1");
      first->bind(1, task_id);
      std::string content = first->step() ? first->text(0) : task->title;
      if (!a.text.empty())
        content += (content.empty() ? "" : "\n\n") + a.text;
      new_job j;
      j.agent = a.agent;
      j.repo = task->repo;
      j.task_id = task_id;
      j.task_content = std::move(content);
      if (a.max_attempts > 0)
        j.max_attempts = a.max_attempts;
      auto id = enqueue(j);
      if (!id)
        return id.error();
      out.enqueued.push_back(*id);
      break;
    }
    case stage_action::finish_job: {
      job_mark mark;
      mark.job_id = a.job_id;
      mark.status = job_status::done;
      if (a.run_id > 0) {
        mark.run_id = a.run_id;
        mark.expected_run_id = a.run_id;
      }
      auto won = finalise_job(mark);
      if (!won)
        return won.error();
      if (!*won)
        return caf::make_error(ec::conflict, "job " + std::to_string(a.job_id) +
                                                 " was finalised elsewhere");
      break;
    }
    case stage_action::defer_job: {
      // Back in the queue, due later, the claim's attempt given back.
      auto q = db_.prepare(
          "UPDATE jobs SET status = 'queued', started_at = NULL, pid = NULL, "
          "available_at = datetime('now', '+' || ?3 || ' seconds'), "
          "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
          "error = ?4 WHERE id = ?1 AND status = 'running' "
          "AND (?2 = 0 OR run_id = ?2)");
      q->bind(1, a.job_id);
      q->bind(2, a.run_id);
      q->bind(3, a.delay_s);
      q->bind(4, std::string_view{a.text});
      q->step();
      if (db_.changes() == 0)
        return caf::make_error(ec::conflict, "job " + std::to_string(a.job_id) +
                                                 " was finalised elsewhere");
      break;
    }
    case stage_action::job_fault:
      break; // the scheduler's: it finalises the job as a failure
    case stage_action::stamp_brd_start:
      start_brd_review(task_id);
      break;
    case stage_action::stamp_brd_end:
      end_brd_review(task_id);
      break;
    case stage_action::set_waiting:
      exec("UPDATE tasks SET waiting = ?2, updated_at = datetime('now') "
           "WHERE id = ?1",
           [&](statement& q) { q.bind_text_or_null(2, to_string(a.wait)); });
      break;
    case stage_action::record_sha:
      exec("UPDATE tasks SET expected_sha = ?2 WHERE id = ?1",
           [&](statement& q) { q.bind(2, std::string_view{a.text}); });
      break;
    case stage_action::count_ci_failure:
      exec("UPDATE tasks SET ci_failures = ci_failures + 1 WHERE id = ?1",
           none);
      break;
    case stage_action::count_review_round:
      exec("UPDATE tasks SET review_rounds = review_rounds + 1 WHERE id = ?1",
           none);
      break;
    case stage_action::plane_state:
    case stage_action::plane_comment:
      queue_plane_call(
          task_id, a.kind == stage_action::plane_state ? "state" : "comment",
          a.text);
      break;
    case stage_action::freeze_repo: {
      auto frozen = freeze_repo(task->repo, a.text, task->work_item_id);
      if (!frozen)
        return frozen.error();
      break;
    }
    case stage_action::cancel_jobs: {
      auto running = stop_task_jobs(task_id);
      out.to_stop.insert(out.to_stop.end(), running.begin(), running.end());
      break;
    }
    case stage_action::count_reconcile:
      exec("UPDATE tasks SET reconciles = reconciles + 1, "
           "updated_at = datetime('now') WHERE id = ?1",
           none);
      break;
    case stage_action::mark_stuck:
      exec("UPDATE tasks SET stuck_reason = ?2 WHERE id = ?1",
           [&](statement& q) { q.bind(2, std::string_view{a.text}); });
      break;
    }
  }
  out.applied = true;
  return out;
}

void store::queue_plane_call(int64_t task_id, const char* kind,
                             const std::string& body) {
  // external_id: one per (task, call), so a retried call is known.
  auto n = db_.prepare("SELECT COUNT(*) FROM plane_outbox WHERE task_id = ?1");
  n->bind(1, task_id);
  n->step();
  auto external_id = "orchd-" + std::to_string(task_id) + "-" +
                     std::to_string(n->int64(0) + 1);
  auto q = db_.prepare("INSERT INTO plane_outbox (task_id, kind, body, "
                       "external_id) VALUES (?1, ?2, ?3, ?4)");
  q->bind(1, task_id);
  q->bind(2, std::string_view{kind});
  q->bind(3, std::string_view{body});
  q->bind(4, std::string_view{external_id});
  q->step();
}

caf::error store::link_work_item_deps(const task_row& task,
                                      const std::vector<std::string>& ids) {
  auto add = db_.prepare("INSERT OR IGNORE INTO work_item_deps (task_id, "
                         "work_item_id) VALUES (?1, ?2)");
  for (auto& id : ids) {
    if (id == task.work_item_id)
      continue;
    add->reset();
    add->bind(1, task.id);
    add->bind(2, std::string_view{id});
    add->step();
  }
  // Every open row this task settles: its own, whose work items have
  // tasks, and the others' that name this task's work item.
  auto open = db_.prepare(
      "SELECT w.task_id, w.work_item_id, t.id, "
      "(SELECT work_item_id FROM tasks WHERE id = w.task_id) "
      "FROM work_item_deps w JOIN tasks t ON t.work_item_id = w.work_item_id "
      "WHERE w.resolved_at IS NULL AND (w.task_id = ?1 OR t.id = ?1)");
  open->bind(1, task.id);
  struct row {
    int64_t waiter;
    std::string named;
    int64_t other;
    std::string waiter_item;
  };
  std::vector<row> rows;
  while (open->step())
    rows.push_back(
        {open->int64(0), open->text(1), open->int64(2), open->text(3)});
  auto resolve = db_.prepare("UPDATE work_item_deps SET resolved_at = "
                             "datetime('now') WHERE task_id = ?1 AND "
                             "work_item_id = ?2");
  for (auto& r : rows) {
    auto linked = declare_dependency(r.waiter, r.other);
    if (!linked && linked.error() != ec::dependency_cycle)
      return linked.error();
    if (!linked)
      queue_plane_call(r.waiter, "comment",
                       "orchd: " + r.waiter_item + " cannot wait for " +
                           r.named + ": " + describe(linked.error()) +
                           "; that Depends-On line is ignored");
    resolve->reset();
    resolve->bind(1, r.waiter);
    resolve->bind(2, std::string_view{r.named});
    resolve->step();
  }
  return caf::none;
}

std::vector<idle_task> store::idle_tasks() {
  auto q = db_.prepare(
      "SELECT " ORCHD_TASK_COLUMNS ", "
      "CAST((julianday('now') - julianday(updated_at)) * 86400 AS INTEGER), "
      "waiting, stuck_reason IS NOT NULL, reconciles FROM tasks t "
      "WHERE stage NOT IN " ORCHD_FINISHED_STAGES " AND NOT EXISTS (SELECT 1 "
      "FROM jobs j WHERE j.task_id = t.id AND j.status IN ('queued', "
      "'running')) ORDER BY id");
  std::vector<idle_task> out;
  while (q->step()) {
    idle_task x;
    x.task = read_task(*q);
    x.age_s = q->int64(14);
    x.waiting = parse_task_wait(q->text(15));
    x.stuck = q->int64(16) != 0;
    x.reconciles = q->int64(17);
    out.push_back(std::move(x));
  }
  return out;
}

// Only a task's oldest unsettled call is due: its calls land in order
// (the review state before the comment that points at the BRD).
std::vector<plane_call> store::due_plane_calls(int64_t limit) {
  auto q = db_.prepare(
      "SELECT o.id, o.task_id, o.kind, o.body, o.external_id, o.attempts, "
      "COALESCE(t.plane_id, t.plane_issue_id, ''), t.repo "
      "FROM plane_outbox o JOIN tasks t ON t.id = o.task_id "
      "WHERE o.sent_at IS NULL AND o.given_up_at IS NULL "
      "AND (o.available_at IS NULL OR o.available_at <= datetime('now')) "
      "AND o.id = (SELECT MIN(p.id) FROM plane_outbox p WHERE "
      "p.task_id = o.task_id AND p.sent_at IS NULL AND p.given_up_at IS NULL) "
      "ORDER BY o.id LIMIT ?1");
  q->bind(1, limit);
  std::vector<plane_call> out;
  while (q->step()) {
    plane_call c;
    c.id = q->int64(0);
    c.task_id = q->int64(1);
    c.kind = q->text(2);
    c.body = q->text(3);
    c.external_id = q->text(4);
    c.attempts = q->int64(5);
    c.plane_id = q->text(6);
    c.repo = q->text(7);
    out.push_back(std::move(c));
  }
  return out;
}

caf::optional<int64_t> store::next_plane_call_due_ms() {
  auto q = db_.prepare(
      "SELECT CAST((julianday(MIN(available_at)) - julianday('now')) * "
      "86400000 AS INTEGER) FROM plane_outbox WHERE sent_at IS NULL AND "
      "given_up_at IS NULL AND available_at > datetime('now')");
  if (!q->step() || q->is_null(0))
    return caf::none;
  return std::max<int64_t>(0, q->int64(0));
}

bool store::settle_plane_call(const plane_call_result& x) {
  const char* sql = nullptr;
  switch (x.outcome) {
  case plane_call_result::sent:
    sql = "UPDATE plane_outbox SET sent_at = datetime('now'), "
          "attempts = attempts + 1, error = NULL WHERE id = ?1 AND "
          "sent_at IS NULL";
    break;
  case plane_call_result::retry:
    sql = "UPDATE plane_outbox SET attempts = attempts + 1, error = ?2, "
          "available_at = datetime('now', '+' || ?3 || ' seconds') "
          "WHERE id = ?1 AND sent_at IS NULL";
    break;
  case plane_call_result::given_up:
    sql = "UPDATE plane_outbox SET attempts = attempts + 1, error = ?2, "
          "given_up_at = datetime('now') WHERE id = ?1 AND sent_at IS NULL";
    break;
  }
  auto q = db_.prepare(sql);
  q->bind(1, x.id);
  if (x.outcome != plane_call_result::sent)
    q->bind(2, std::string_view{x.error});
  if (x.outcome == plane_call_result::retry)
    q->bind(3, x.retry_in_s);
  q->step();
  return db_.changes() > 0;
}

} // namespace orchd::storage
