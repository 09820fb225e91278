// The store's pipeline operation: a transition's actions in one write.
#include "storage/store.hpp"

#include "actors/core/error.hpp"
#include "storage/rows.hpp"

namespace orchd::storage {

caf::expected<task_pipeline> store::pipeline_state(int64_t task_id) {
  auto q = db_.prepare("SELECT waiting, expected_sha, ci_failures, "
                       "review_rounds, stuck_reason FROM tasks WHERE id = ?1");
  q->bind(1, task_id);
  if (!q->step())
    return caf::make_error(ec::no_such_task, "task " + std::to_string(task_id));
  task_pipeline x;
  x.waiting = parse_task_wait(q->text(0));
  x.expected_sha = q->text(1);
  x.ci_failures = q->int64(2);
  x.review_rounds = q->int64(3);
  x.stuck_reason = q->text(4);
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
  for (auto& a : actions) {
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
      auto id = enqueue(j);
      if (!id)
        return id.error();
      out.enqueued.push_back(*id);
      break;
    }
    case stage_action::defer_job:
    case stage_action::job_fault:
      break; // the scheduler's, when it finalises the job
    case stage_action::stamp_brd_start:
      start_brd_review(task_id);
      break;
    case stage_action::stamp_brd_end:
      end_brd_review(task_id);
      break;
    case stage_action::set_waiting:
      exec("UPDATE tasks SET waiting = ?2 WHERE id = ?1",
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
    case stage_action::plane_comment: {
      // external_id: one per (task, call), so a retried call is known.
      auto n =
          db_.prepare("SELECT COUNT(*) FROM plane_outbox WHERE task_id = ?1");
      n->bind(1, task_id);
      n->step();
      auto external_id = "orchd-" + std::to_string(task_id) + "-" +
                         std::to_string(n->int64(0) + 1);
      exec("INSERT INTO plane_outbox (task_id, kind, body, external_id) "
           "VALUES (?1, ?2, ?3, ?4)",
           [&](statement& q) {
             q.bind(2, std::string_view{a.kind == stage_action::plane_state
                                            ? "state"
                                            : "comment"});
             q.bind(3, std::string_view{a.text});
             q.bind(4, std::string_view{external_id});
           });
      break;
    }
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
    case stage_action::mark_stuck:
      exec("UPDATE tasks SET stuck_reason = ?2 WHERE id = ?1",
           [&](statement& q) { q.bind(2, std::string_view{a.text}); });
      break;
    }
  }
  out.applied = true;
  return out;
}

} // namespace orchd::storage
