#include "actors/logic/pipeline.hpp"

#include <algorithm>
#include <cctype>

namespace orchd::pipeline {

namespace {

std::string lower(std::string_view x) {
  std::string out{x};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view x) {
  auto first = x.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  auto last = x.find_last_not_of(" \t\r\n");
  return x.substr(first, last - first + 1);
}

bool starts_with_ci(std::string_view x, std::string_view prefix) {
  return x.size() >= prefix.size() &&
         lower(x.substr(0, prefix.size())) == lower(prefix);
}

} // namespace

const char* to_string(verdict x) {
  switch (x) {
  case verdict::none:
    return "none";
  case verdict::approved:
    return "approved";
  case verdict::changes_requested:
    return "changes_requested";
  case verdict::deployed:
    return "deployed";
  case verdict::merge_lock_busy:
    return "merge_lock_busy";
  case verdict::healthy:
    return "healthy";
  case verdict::degraded:
    return "degraded";
  case verdict::unknown:
    break;
  }
  return "unknown";
}

verdict parse_verdict(std::string_view text) {
  // The last non-blank line.
  std::string_view line;
  auto end = text.size();
  while (end > 0) {
    auto start = text.rfind('\n', end - 1);
    auto from = start == std::string_view::npos ? 0 : start + 1;
    line = trim(text.substr(from, end - from));
    if (!line.empty() || from == 0)
      break;
    end = from - 1;
  }
  constexpr std::string_view tag = "verdict:";
  if (!starts_with_ci(line, tag))
    return verdict::none;
  auto word = lower(trim(line.substr(tag.size())));
  for (auto v :
       {verdict::approved, verdict::changes_requested, verdict::deployed,
        verdict::merge_lock_busy, verdict::healthy, verdict::degraded})
    if (word == to_string(v))
      return v;
  return verdict::unknown;
}

std::vector<std::string> parse_depends_on(std::string_view description) {
  std::vector<std::string> out;
  constexpr std::string_view tag = "depends-on:";
  size_t pos = 0;
  while (pos <= description.size()) {
    auto nl = description.find('\n', pos);
    auto line = trim(description.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? description.size() + 1 : nl + 1;
    if (!starts_with_ci(line, tag))
      continue;
    std::string id;
    auto flush = [&] {
      // PREFIX-N: capital letters and digits, a dash, digits.
      auto dash = id.find('-');
      bool ok = dash != std::string::npos && dash > 0 && dash + 1 < id.size() &&
                std::isalpha(static_cast<unsigned char>(id[0])) &&
                std::all_of(id.begin(), id.begin() + dash,
                            [](unsigned char c) { return std::isalnum(c); }) &&
                std::all_of(id.begin() + dash + 1, id.end(),
                            [](unsigned char c) { return std::isdigit(c); });
      if (ok && std::find(out.begin(), out.end(), id) == out.end())
        out.push_back(id);
      id.clear();
    };
    for (auto c : line.substr(tag.size())) {
      if (c == ',' || c == ' ' || c == '\t')
        flush();
      else
        id += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    flush();
  }
  return out;
}

work_item_moved::to_t classify_state(std::string_view name,
                                     std::string_view group,
                                     std::string_view approved_name,
                                     std::string_view rework_name) {
  using to = work_item_moved::to_t;
  if (group == "cancelled")
    return to::cancelled;
  if (!approved_name.empty() && lower(name) == lower(approved_name))
    return to::approved;
  if (!rework_name.empty() && lower(name) == lower(rework_name))
    return to::rework;
  return to::other;
}

const char* to_string(action::kind_t x) {
  switch (x) {
  case action::set_stage:
    return "set_stage";
  case action::enqueue:
    return "enqueue";
  case action::defer_job:
    return "defer_job";
  case action::job_fault:
    return "job_fault";
  case action::stamp_brd_start:
    return "stamp_brd_start";
  case action::stamp_brd_end:
    return "stamp_brd_end";
  case action::set_waiting:
    return "set_waiting";
  case action::record_sha:
    return "record_sha";
  case action::count_ci_failure:
    return "count_ci_failure";
  case action::count_review_round:
    return "count_review_round";
  case action::plane_state:
    return "plane_state";
  case action::plane_comment:
    return "plane_comment";
  case action::freeze_repo:
    return "freeze_repo";
  case action::cancel_jobs:
    return "cancel_jobs";
  case action::mark_stuck:
    return "mark_stuck";
  case action::finish_job:
    return "finish_job";
  case action::count_reconcile:
    return "count_reconcile";
  }
  return "?";
}

const char* agent_of(task_stage stage) {
  switch (stage) {
  case task_stage::analysis:
    return "analyst";
  case task_stage::architecture:
    return "architect";
  case task_stage::development:
    return "developer";
  case task_stage::review:
    return "reviewer";
  case task_stage::deploy:
    return "deployer";
  case task_stage::verification:
    return "verifier";
  default:
    return "";
  }
}

namespace {

bool finished(task_stage s) {
  return s == task_stage::done || s == task_stage::cancelled;
}

// Builds a transition, action by action.
struct builder {
  const task_view& task;
  transition out;

  builder& log(std::string text) {
    out.log = std::move(text);
    return *this;
  }
  builder& add(action a) {
    out.actions.push_back(std::move(a));
    return *this;
  }
  // A stage change; the task's next job, if its stage has an agent.
  builder& go(task_stage to, std::string content = {}) {
    add({action::set_stage, to});
    if (*agent_of(to) != '\0')
      add({action::enqueue, task_stage::unknown, agent_of(to),
           std::move(content)});
    return *this;
  }
  builder& enqueue(const char* agent, std::string content) {
    return add(
        {action::enqueue, task_stage::unknown, agent, std::move(content)});
  }
  builder& with_text(action::kind_t kind, std::string text) {
    return add(
        {action::kind_t(kind), task_stage::unknown, {}, std::move(text)});
  }
  builder& wait(waiting w) {
    action a{action::set_waiting};
    a.wait = w;
    return add(std::move(a));
  }
  builder& fault(int64_t job_id, std::string reason) {
    action a{action::job_fault};
    a.job_id = job_id;
    a.text = std::move(reason);
    return add(std::move(a));
  }
  builder& stuck(std::string reason) {
    with_text(action::mark_stuck, reason);
    return with_text(action::plane_comment,
                     "orchd: " + task.work_item_id + " is stuck: " + reason);
  }
  transition stale(std::string why) {
    out.actions.clear();
    out.stale = true;
    out.log = "stale, nothing done: " + why;
    return std::move(out);
  }
  transition done() { return std::move(out); }
};

std::string stage_name(task_stage s) {
  return to_string(s);
}

transition on_success(builder& b, const task_view& t, const job_succeeded& e,
                      const limits& lim) {
  if (e.agent != agent_of(t.stage))
    return b.stale("a " + e.agent + " job ended while the task is in " +
                   stage_name(t.stage));
  switch (t.stage) {
  case task_stage::analysis:
    if (t.waits_for == waiting::human_review)
      return b.stale("an analyst job ended while the BRD awaits review");
    if (!e.brd_present)
      return b
          .fault(e.job_id,
                 "the analyst succeeded but wrote no BRD at " + t.brd_path)
          .log("analyst success without a BRD: a fault")
          .done();
    return b.add({action::stamp_brd_start})
        .wait(waiting::human_review)
        .with_text(action::plane_state, "review")
        .with_text(action::plane_comment,
                   "orchd: the BRD of " + t.work_item_id +
                       " is ready for review: " + t.brd_path)
        .log("BRD posted, waiting for its review")
        .done();
  case task_stage::architecture:
    return b.go(task_stage::development)
        .log("architecture -> development")
        .done();
  case task_stage::development:
    if (e.head_sha.empty())
      return b
          .fault(e.job_id, "the developer succeeded but the branch has no "
                           "head to wait for")
          .log("developer success without a branch head: a fault")
          .done();
    return b.with_text(action::record_sha, e.head_sha)
        .add({action::set_stage, task_stage::ci})
        .wait(waiting::ci)
        .log("development -> ci, waiting for " + e.head_sha)
        .done();
  case task_stage::review:
    if (e.says == verdict::approved)
      return b.go(task_stage::deploy).log("review approved -> deploy").done();
    if (e.says == verdict::changes_requested) {
      if (t.review_rounds >= lim.review_fix_limit)
        return b.add({action::count_review_round})
            .stuck("the review asked for changes " +
                   std::to_string(t.review_rounds + 1) + " times (limit " +
                   std::to_string(lim.review_fix_limit) + ")")
            .log("changes requested past the limit: stuck")
            .done();
      return b.add({action::count_review_round})
          .go(task_stage::development,
              "The review asked for changes:\n\n" + e.result_text)
          .log("review: changes requested -> development")
          .done();
    }
    break;
  case task_stage::deploy:
    if (e.says == verdict::deployed)
      return b.go(task_stage::verification)
          .log("deployed -> verification")
          .done();
    if (e.says == verdict::merge_lock_busy) {
      action a{action::defer_job};
      a.job_id = e.job_id;
      a.delay_s = lim.merge_defer_s;
      return b.add(std::move(a))
          .log("merge lock busy: the deployer runs again in " +
               std::to_string(lim.merge_defer_s) + " s")
          .done();
    }
    break;
  case task_stage::verification:
    if (e.says == verdict::healthy)
      return b.add({action::set_stage, task_stage::done})
          .with_text(action::plane_state, "done")
          .with_text(action::plane_comment,
                     "orchd: " + t.work_item_id + " is deployed and healthy")
          .log("verified healthy -> done")
          .done();
    if (e.says == verdict::degraded)
      return b.add({action::set_stage, task_stage::done})
          .with_text(action::freeze_repo,
                     "verification of " + t.work_item_id + " found it degraded")
          .with_text(action::plane_comment,
                     "orchd: " + t.work_item_id +
                         " is deployed but degraded; the repo is frozen "
                         "until an operator clears it (POST "
                         "/serial-gate/unfreeze)")
          .log("verified degraded -> done, repo frozen")
          .done();
    break;
  default:
    return b.stale("a job ended while the task is in " + stage_name(t.stage));
  }
  // Reviewer, deployer or verifier without a verdict it may give.
  return b
      .fault(e.job_id, std::string{"the "} + e.agent +
                           " succeeded without a verdict it may give (" +
                           to_string(e.says) + ")")
      .log(std::string{"a "} + e.agent +
           " result without a known verdict: a "
           "fault")
      .done();
}

transition on_ci(builder& b, const task_view& t, const ci_result& e,
                 const limits& lim) {
  if (t.stage != task_stage::ci || t.waits_for != waiting::ci)
    return b.stale("a CI result while the task is in " + stage_name(t.stage));
  if (e.sha != t.expected_sha)
    return b.stale("a CI result for " + e.sha + ", not " + t.expected_sha);
  if (e.result == "success")
    return b.go(task_stage::review).log("CI passed -> review").done();
  if (e.result != "failure")
    return b.stale("CI is " + e.result + " for " + e.sha);
  if (t.ci_failures >= lim.ci_fix_limit)
    return b.add({action::count_ci_failure})
        .stuck("CI failed " + std::to_string(t.ci_failures + 1) +
               " times (limit " + std::to_string(lim.ci_fix_limit) +
               "), last: " + e.check_name + " " + e.conclusion)
        .log("CI failed past the limit: stuck")
        .done();
  return b.add({action::count_ci_failure})
      .go(task_stage::development, "CI failed on " + e.sha + ": " +
                                       e.check_name + " (" + e.conclusion +
                                       ") " + e.url)
      .log("CI failed -> development")
      .done();
}

transition on_move(builder& b, const task_view& t, const work_item_moved& e) {
  using to = work_item_moved::to_t;
  if (e.to == to::cancelled)
    return b.add({action::cancel_jobs})
        .add({action::set_stage, task_stage::cancelled})
        .log("work item cancelled in Plane -> cancelled")
        .done();
  if (t.stage != task_stage::analysis || t.waits_for != waiting::human_review)
    return b.stale("the work item moved while no review was awaited");
  if (e.to == to::approved)
    return b.add({action::stamp_brd_end})
        .go(task_stage::architecture)
        .log("BRD approved -> architecture")
        .done();
  if (e.to == to::rework)
    return b.wait(waiting::nothing)
        .enqueue("analyst",
                 e.latest_comment.empty()
                     ? std::string{}
                     : "The reviewer asked for rework:\n\n" + e.latest_comment)
        .log("BRD sent back for rework: the analyst again")
        .done();
  return b.stale("the work item moved to a state that decides nothing");
}

// A task idle past its grace: its stage's job again (bounded), or stuck.
// A wait past its grace (the human gate, a CI result) is stuck at once:
// running anything would not bring the awaited answer.
transition on_idle(builder& b, const task_view& t, const idle_past_grace& e) {
  if (t.stuck)
    return b.stale("already stuck");
  auto idle = std::to_string(e.idle_s) + " s";
  if (t.waits_for == waiting::human_review)
    return b.stuck("the BRD has waited " + idle + " for its review")
        .log("the human gate waited past its grace: stuck")
        .done();
  if (t.waits_for == waiting::ci)
    return b
        .stuck("no CI result for " + t.expected_sha + " in " + idle +
               "; send it again or requeue the developer")
        .log("CI waited past its grace: stuck")
        .done();
  auto agent = agent_of(t.stage);
  if (*agent == '\0')
    return b.stale("no job runs in " + stage_name(t.stage));
  if (e.reconciles >= e.max_retries)
    return b
        .stuck("the " + stage_name(t.stage) + " stage had no job for " + idle +
               " after " + std::to_string(e.reconciles) + " reruns")
        .log("idle past its grace, reruns spent: stuck")
        .done();
  return b.add({action::count_reconcile})
      .enqueue(agent, "orchd's reconciler runs this stage again: it had no "
                      "job for " +
                          idle + ".")
      .log("idle past its grace: the " + std::string{agent} + " again")
      .done();
}

} // namespace

std::string grace_key(task_stage stage, waiting w) {
  if (w != waiting::nothing)
    return to_string(w);
  return to_string(stage);
}

transition next(const task_view& task, const event& ev, const limits& lim) {
  builder b{task, {}};
  if (finished(task.stage))
    return b.stale("the task is " + stage_name(task.stage));
  if (auto e = std::get_if<job_failed>(&ev))
    return b
        .stuck("the " + e->agent + " job " + std::to_string(e->job_id) +
               " failed for good: " + e->reason)
        .log("a job failed for good: stuck in " + stage_name(task.stage))
        .done();
  if (std::holds_alternative<worktree_made>(ev)) {
    if (task.stage != task_stage::created &&
        task.stage != task_stage::setup_failed)
      return b.stale("the worktree was made again in " +
                     stage_name(task.stage));
    // The analyst's job was enqueued with the task.
    return b.add({action::set_stage, task_stage::analysis})
        .log("worktree made -> analysis")
        .done();
  }
  if (auto e = std::get_if<job_succeeded>(&ev))
    return on_success(b, task, *e, lim);
  if (auto e = std::get_if<ci_result>(&ev))
    return on_ci(b, task, *e, lim);
  if (auto e = std::get_if<idle_past_grace>(&ev))
    return on_idle(b, task, *e);
  return on_move(b, task, std::get<work_item_moved>(ev));
}

} // namespace orchd::pipeline
