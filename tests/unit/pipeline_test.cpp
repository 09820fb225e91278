// The stage machine, row by row of issue 12's table, with its stale cases,
// and the parsers of verdicts and Depends-On lines.
#include "actors/logic/pipeline.hpp"

#include "tests/support/test.hpp"

using namespace orchd;
using namespace orchd::pipeline;

namespace {

// The actions as one line: "set_stage:architecture enqueue:architect".
std::string shown(const transition& t) {
  std::string out;
  for (auto& a : t.actions) {
    out += out.empty() ? "" : " ";
    out += to_string(a.kind);
    switch (a.kind) {
    case action::set_stage:
      out += std::string{":"} + to_string(a.stage);
      break;
    case action::enqueue:
      out += ":" + a.agent;
      break;
    case action::set_waiting:
      out += a.wait == waiting::human_review ? ":human_review"
             : a.wait == waiting::ci         ? ":ci"
                                             : ":nothing";
      break;
    case action::plane_state:
    case action::record_sha:
      out += ":" + a.text;
      break;
    case action::defer_job:
      out += ":" + std::to_string(a.job_id) + "+" + std::to_string(a.delay_s);
      break;
    case action::job_fault:
      out += ":" + std::to_string(a.job_id);
      break;
    default:
      break;
    }
  }
  return out;
}

task_view in(task_stage stage, waiting w = waiting::nothing) {
  task_view t;
  t.stage = stage;
  t.waits_for = w;
  t.work_item_id = "ET-042";
  t.brd_path = "docs/work-items/ET-042/brd.md";
  t.expected_sha = std::string(40, 'a');
  return t;
}

job_succeeded success(const std::string& agent, verdict v = verdict::none) {
  job_succeeded e;
  e.job_id = 7;
  e.agent = agent;
  e.says = v;
  return e;
}

ci_result ci(const std::string& result,
             std::string sha = std::string(40, 'a')) {
  return {std::move(sha), result, "build", result == "failure" ? "failure" : "",
          "https://ci.example/1"};
}

work_item_moved moved(work_item_moved::to_t to, std::string comment = "") {
  return {to, std::move(comment)};
}

const limits lim{};

} // namespace

TEST_CASE("verdicts: the last non-blank line, any case") {
  CHECK(parse_verdict("looks good\nVERDICT: approved") == verdict::approved);
  CHECK(parse_verdict("x\n  verdict:   Changes_Requested  \n\n  \n") ==
        verdict::changes_requested);
  CHECK(parse_verdict("VERDICT: deployed\r\n") == verdict::deployed);
  CHECK(parse_verdict("VERDICT:merge_lock_busy") == verdict::merge_lock_busy);
  CHECK(parse_verdict("VERDICT: healthy") == verdict::healthy);
  CHECK(parse_verdict("VERDICT: DEGRADED") == verdict::degraded);
  CHECK(parse_verdict("VERDICT: shipped") == verdict::unknown);
  // Not the last line, or no line at all: no verdict.
  CHECK(parse_verdict("VERDICT: approved\nbut one more thing") ==
        verdict::none);
  CHECK(parse_verdict("") == verdict::none);
  CHECK(parse_verdict("\n\n") == verdict::none);
  CHECK(parse_verdict("the verdict: approved") == verdict::none);
}

TEST_CASE("Depends-On lines: any case, several ids, each once") {
  auto ids = parse_depends_on("Add retries.\n"
                              "Depends-On: ET-012\n"
                              "  depends-on: et-7, ABC-3 ET-012\n"
                              "DEPENDS-ON:\n"
                              "Depends-On: not an id, ET-, -4, ET-x1\n"
                              "This depends-on: ET-99 is prose");
  CHECK(ids == std::vector<std::string>{"ET-012", "ET-7", "ABC-3"});
  CHECK(parse_depends_on("").empty());
}

TEST_CASE("a work item's state: approval, rework, or the cancelled group") {
  using to = work_item_moved::to_t;
  CHECK(classify_state("Approved", "started", "Approved", "Rework") ==
        to::approved);
  CHECK(classify_state("rework", "started", "Approved", "Rework") ==
        to::rework);
  CHECK(classify_state("Won't do", "cancelled", "Approved", "Rework") ==
        to::cancelled);
  CHECK(classify_state("In Progress", "started", "Approved", "Rework") ==
        to::other);
}

TEST_CASE("created: the worktree made starts the analysis") {
  CHECK(shown(next(in(task_stage::created), worktree_made{}, lim)) ==
        "set_stage:analysis");
  CHECK(shown(next(in(task_stage::setup_failed), worktree_made{}, lim)) ==
        "set_stage:analysis");
  CHECK(next(in(task_stage::review), worktree_made{}, lim).stale);
}

TEST_CASE("analysis: a BRD posts for review once; without one, a fault") {
  auto e = success("analyst");
  e.brd_present = true;
  auto t = next(in(task_stage::analysis), e, lim);
  CHECK(shown(t) == "stamp_brd_start set_waiting:human_review "
                    "plane_state:review plane_comment");
  CHECK(t.actions.back().text.find("docs/work-items/ET-042/brd.md") !=
        std::string::npos);
  e.brd_present = false;
  CHECK(shown(next(in(task_stage::analysis), e, lim)) == "job_fault:7");
  // A second analyst end while the review is awaited changes nothing.
  e.brd_present = true;
  CHECK(next(in(task_stage::analysis, waiting::human_review), e, lim).stale);
}

TEST_CASE("analysis waiting: approval, rework, and moves that decide "
          "nothing") {
  using to = work_item_moved::to_t;
  auto waiting_task = in(task_stage::analysis, waiting::human_review);
  CHECK(shown(next(waiting_task, moved(to::approved), lim)) ==
        "stamp_brd_end set_stage:architecture enqueue:architect");
  auto rework =
      next(waiting_task, moved(to::rework, "Cover the 429 case"), lim);
  CHECK(shown(rework) == "set_waiting:nothing enqueue:analyst");
  CHECK(rework.actions[1].text.find("Cover the 429 case") != std::string::npos);
  CHECK(next(waiting_task, moved(to::other), lim).stale);
  // A second approval (the task moved on) is stale.
  CHECK(next(in(task_stage::architecture), moved(to::approved), lim).stale);
  CHECK(next(in(task_stage::analysis), moved(to::approved), lim).stale);
}

TEST_CASE("architecture and development") {
  CHECK(shown(next(in(task_stage::architecture), success("architect"), lim)) ==
        "set_stage:development enqueue:developer");
  auto dev = success("developer");
  dev.head_sha = std::string(40, 'b');
  CHECK(shown(next(in(task_stage::development), dev, lim)) ==
        "record_sha:" + std::string(40, 'b') + " set_stage:ci set_waiting:ci");
  dev.head_sha.clear();
  CHECK(shown(next(in(task_stage::development), dev, lim)) == "job_fault:7");
  // Another stage's agent ending is stale.
  CHECK(next(in(task_stage::development), success("architect"), lim).stale);
}

TEST_CASE("ci: the expected sha's result decides; others change nothing") {
  auto t = in(task_stage::ci, waiting::ci);
  CHECK(shown(next(t, ci("success"), lim)) ==
        "set_stage:review enqueue:reviewer");
  auto failed = next(t, ci("failure"), lim);
  CHECK(shown(failed) ==
        "count_ci_failure set_stage:development enqueue:developer");
  CHECK(failed.actions.back().text.find("build (failure) "
                                        "https://ci.example/1") !=
        std::string::npos);
  CHECK(next(t, ci("pending"), lim).stale);
  CHECK(next(t, ci("success", std::string(40, 'c')), lim).stale);
  CHECK(next(in(task_stage::review), ci("success"), lim).stale);
}

TEST_CASE("ci: failures are bounded by ci_fix_limit, then stuck") {
  auto t = in(task_stage::ci, waiting::ci);
  t.ci_failures = lim.ci_fix_limit - 1;
  CHECK(shown(next(t, ci("failure"), lim)) ==
        "count_ci_failure set_stage:development enqueue:developer");
  t.ci_failures = lim.ci_fix_limit;
  auto stuck = next(t, ci("failure"), lim);
  CHECK(shown(stuck) == "count_ci_failure mark_stuck plane_comment");
  CHECK(stuck.actions[1].text == "CI failed 4 times (limit 3), last: build "
                                 "failure");
}

TEST_CASE("review: approved, changes requested (bounded), no verdict") {
  auto t = in(task_stage::review);
  CHECK(shown(next(t, success("reviewer", verdict::approved), lim)) ==
        "set_stage:deploy enqueue:deployer");
  auto changes = success("reviewer", verdict::changes_requested);
  changes.result_text = "Rename the flag.\nVERDICT: changes_requested";
  auto back = next(t, changes, lim);
  CHECK(shown(back) ==
        "count_review_round set_stage:development enqueue:developer");
  CHECK(back.actions.back().text.find("Rename the flag.") != std::string::npos);
  t.review_rounds = lim.review_fix_limit;
  CHECK(shown(next(t, changes, lim)) ==
        "count_review_round mark_stuck plane_comment");
  CHECK(shown(next(in(task_stage::review), success("reviewer"), lim)) ==
        "job_fault:7");
  CHECK(shown(next(in(task_stage::review),
                   success("reviewer", verdict::deployed), lim)) ==
        "job_fault:7");
}

TEST_CASE("deploy: deployed, and a busy merge lock defers the same job "
          "without spending an attempt") {
  auto t = in(task_stage::deploy);
  CHECK(shown(next(t, success("deployer", verdict::deployed), lim)) ==
        "set_stage:verification enqueue:verifier");
  CHECK(shown(next(t, success("deployer", verdict::merge_lock_busy), lim)) ==
        "defer_job:7+300");
  CHECK(shown(next(t, success("deployer", verdict::unknown), lim)) ==
        "job_fault:7");
}

TEST_CASE("verification: healthy is done; degraded is done and freezes") {
  auto t = in(task_stage::verification);
  CHECK(shown(next(t, success("verifier", verdict::healthy), lim)) ==
        "set_stage:done plane_state:done plane_comment");
  auto degraded = next(t, success("verifier", verdict::degraded), lim);
  CHECK(shown(degraded) == "set_stage:done freeze_repo plane_comment");
  CHECK(degraded.actions[2].text.find("/serial-gate/unfreeze") !=
        std::string::npos);
}

TEST_CASE("cancel from every unfinished stage; nothing after the end") {
  using to = work_item_moved::to_t;
  for (auto s :
       {task_stage::created, task_stage::setup_failed, task_stage::analysis,
        task_stage::architecture, task_stage::development, task_stage::ci,
        task_stage::review, task_stage::deploy, task_stage::verification}) {
    CAPTURE(to_string(s));
    CHECK(shown(next(in(s), moved(to::cancelled), lim)) ==
          "cancel_jobs set_stage:cancelled");
  }
  for (auto s : {task_stage::done, task_stage::cancelled}) {
    CAPTURE(to_string(s));
    CHECK(next(in(s), moved(to::cancelled), lim).stale);
    CHECK(next(in(s), ci("success"), lim).stale);
    CHECK(next(in(s), success("verifier", verdict::healthy), lim).stale);
    CHECK(next(in(s), job_failed{7, "developer", "x"}, lim).stale);
  }
}

TEST_CASE("a job failed for good marks the task stuck, stage kept") {
  auto t = next(in(task_stage::development),
                job_failed{7, "developer", "max turns reached"}, lim);
  CHECK(shown(t) == "mark_stuck plane_comment");
  CHECK(t.actions[0].text ==
        "the developer job 7 failed for good: max turns reached");
  CHECK(t.actions[1].text.find("ET-042 is stuck") != std::string::npos);
}

TEST_CASE("every stage names its agent") {
  CHECK(std::string{agent_of(task_stage::analysis)} == "analyst");
  CHECK(std::string{agent_of(task_stage::verification)} == "verifier");
  CHECK(std::string{agent_of(task_stage::ci)}.empty());
  CHECK(std::string{agent_of(task_stage::done)}.empty());
}

TEST_CASE("idle past its grace: the stage's job again, bounded, then stuck") {
  auto again = next(in(task_stage::review), idle_past_grace{7300, 0, 2}, lim);
  CHECK(shown(again) == "count_reconcile enqueue:reviewer");
  CHECK(again.actions[1].text.find("no job for 7300 s") != std::string::npos);
  auto second = next(in(task_stage::review), idle_past_grace{7300, 1, 2}, lim);
  CHECK(shown(second) == "count_reconcile enqueue:reviewer");
  auto spent = next(in(task_stage::review), idle_past_grace{7300, 2, 2}, lim);
  CHECK(shown(spent) == "mark_stuck plane_comment");
  CHECK(spent.actions[0].text ==
        "the review stage had no job for 7300 s after 2 reruns");
  // Waits past their grace are stuck at once: no agent brings the answer.
  auto human = next(in(task_stage::analysis, waiting::human_review),
                    idle_past_grace{604800, 0, 2}, lim);
  CHECK(shown(human) == "mark_stuck plane_comment");
  CHECK(human.actions[0].text == "the BRD has waited 604800 s for its review");
  auto ci_wait =
      next(in(task_stage::ci, waiting::ci), idle_past_grace{3600, 0, 2}, lim);
  CHECK(shown(ci_wait) == "mark_stuck plane_comment");
  CHECK(ci_wait.actions[0].text.find("no CI result for " +
                                     std::string(40, 'a')) == 0);
  // Stuck already, a stage without an agent, or finished: nothing.
  auto stuck = in(task_stage::review);
  stuck.stuck = true;
  CHECK(next(stuck, idle_past_grace{9999, 0, 2}, lim).stale);
  CHECK(next(in(task_stage::created), idle_past_grace{9999, 0, 2}, lim).stale);
  CHECK(next(in(task_stage::done), idle_past_grace{9999, 0, 2}, lim).stale);
  // The grace's key: the wait, else the stage.
  CHECK(grace_key(task_stage::analysis, waiting::human_review) ==
        "human_review");
  CHECK(grace_key(task_stage::ci, waiting::ci) == "ci");
  CHECK(grace_key(task_stage::deploy, waiting::nothing) == "deploy");
}
