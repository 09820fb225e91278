// The Telegram card, rendered alone: every mark and wait reason, the
// stages' details and totals, escaping, and Telegram's 4,096 limit.
#include "actors/logic/card.hpp"

#include "tests/support/test.hpp"

#include <string>

using namespace orchd;

namespace {

// 2026-04-01 10:00:00 UTC
constexpr int64_t t0 = 1775037600;

run_row run(const char* agent, const char* start, const char* end,
            double cost) {
  run_row r;
  r.agent = agent;
  r.started_at = start;
  r.finished_at = end;
  r.model = "claude-opus-4-1-20250805";
  r.effort = "xhigh";
  r.usage.input_tokens = 12'300;
  r.usage.output_tokens = 4'100;
  r.usage.cache_read_tokens = 100'000;
  r.usage.cache_creation_tokens = 2'000;
  r.usage.cost_usd = cost;
  return r;
}

// A task in development: analysis, approval and architecture done.
card_facts developing() {
  card_facts f;
  auto& t = f.detail.task;
  t.id = 7;
  t.work_item_id = "ET-042";
  t.plane_id = "uuid-42";
  t.title = "Add a login page";
  t.repo = "acme/shop";
  t.stage = task_stage::development;
  t.brd_review_started_at = "2026-04-01 09:10:00";
  t.brd_review_ended_at = "2026-04-01 09:40:00";
  f.detail.human_review_s = 1800;
  f.detail.pipeline.history = {"created>analysis@2026-04-01 09:00:00",
                               "analysis>architecture@2026-04-01 09:40:00",
                               "architecture>development@2026-04-01 09:45:30"};
  f.detail.runs = {
      run("analyst", "2026-04-01 09:00:00", "2026-04-01 09:10:00", 0.42),
      run("architect", "2026-04-01 09:40:00", "2026-04-01 09:45:30", 0.30)};
  f.running_agent = "developer";
  f.running_since = "2026-04-01 09:45:31";
  return f;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("card: a task in development, every stage with its mark") {
  card::options opts;
  opts.work_item_url = "https://app.plane.so/acme/projects/p1/issues/uuid-42";
  auto html = card::render(developing(), t0, opts);
  CHECK(html.rfind("<b><a href=\"https://app.plane.so/acme/projects/p1/"
                   "issues/uuid-42\">ET-042</a></b> Add a login page\n",
                   0) == 0);
  CHECK(has(html, "✓ analysis 10m 00s · opus-4-1 · xhigh · 12.3k in, 4.1k "
                  "out, 100.0k/2.0k cache · $0.42\n"));
  CHECK(has(html, "✓ approval · your time 30m 00s\n"));
  CHECK(has(html, "✓ architecture 5m 30s · opus-4-1 · xhigh"));
  CHECK(has(html, "▶ development 14m 29s\n"));
  for (auto later : {"· ci\n", "· review\n", "· deploy\n", "· verification"})
    CHECK(has(html, later));
  CHECK(has(html, "<b>Total</b> $0.72 · 24.6k in, 8.2k out, 200.0k/4.0k "
                  "cache\nagents 15m 30s · your time 30m 00s"));
}

TEST_CASE("card: what a task waits for") {
  card::options opts;
  SUBCASE("the human gate") {
    auto f = developing();
    f.detail.task.stage = task_stage::analysis;
    f.detail.task.brd_review_ended_at.clear();
    f.detail.human_review_s = caf::none;
    f.detail.pipeline.waiting = task_wait::human_review;
    f.running_agent.clear();
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "✓ analysis"));
    CHECK(
        has(html, "⏸ approval: waits for your review of the BRD (50m 00s)"));
    CHECK(has(html, "· architecture"));
    CHECK(has(html, "\n⏸ waits for your review of the BRD"));
  }
  SUBCASE("a CI run") {
    auto f = developing();
    f.detail.task.stage = task_stage::ci;
    f.detail.pipeline.waiting = task_wait::ci;
    f.detail.pipeline.expected_sha = "abcdef0123456789";
    f.running_agent.clear();
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "✓ development"));
    CHECK(has(html, "⏸ ci: waits for CI\n"));
    CHECK(has(html, "\n⏸ waits for CI on abcdef0"));
  }
  SUBCASE("a dependency") {
    auto f = developing();
    f.running_agent.clear();
    f.blocked_by = {"ET-040", "ET-041"};
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "⏸ development: waits for a dependency"));
    CHECK(has(html, "\n⏸ waits for ET-040, ET-041"));
  }
  SUBCASE("a repo freeze") {
    auto f = developing();
    f.running_agent.clear();
    f.frozen = "verification of ET-039 failed";
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "⏸ development: repo frozen"));
    CHECK(has(html, "\n⏸ repo frozen: verification of ET-039 failed"));
  }
  SUBCASE("paused for budget: the cost beside its budget") {
    auto f = developing();
    f.running_agent.clear();
    f.detail.budget.budget_usd = 0.5;
    f.detail.budget.paused = "task budget: spent $0.72, a run costs about "
                             "$0.30, budget $0.50";
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "<b>Total</b> $0.72 of $0.50 budget · "));
    CHECK(has(html, "\n⏸ paused for budget: task budget: spent $0.72"));
  }
  SUBCASE("a merge-lock defer") {
    auto f = developing();
    f.detail.task.stage = task_stage::deploy;
    f.running_agent.clear();
    f.deferred_until = "2026-04-01 10:05:00";
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "⏸ deploy: deferred"));
    CHECK(has(html, "\n⏸ deferred until 10:05 UTC (merge lock busy)"));
  }
  SUBCASE("stuck, with its reason") {
    auto f = developing();
    f.running_agent.clear();
    f.detail.pipeline.stuck_reason = "developer failed 3 times";
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "✗ development\n"));
    CHECK(has(html, "\n✗ <b>stuck</b>: developer failed 3 times"));
  }
  SUBCASE("queued") {
    auto f = developing();
    f.running_agent.clear();
    CHECK(has(card::render(f, t0, opts), "⏸ development: queued"));
  }
}

TEST_CASE("card: done and cancelled") {
  card::options opts;
  auto f = developing();
  f.running_agent.clear();
  SUBCASE("done: every stage done") {
    f.detail.task.stage = task_stage::done;
    auto html = card::render(f, t0, opts);
    for (auto s :
         {"✓ analysis", "✓ approval", "✓ architecture", "✓ development", "✓ ci",
          "✓ review", "✓ deploy", "✓ verification", "\n✓ <b>done</b>"})
      CHECK(has(html, s));
    CHECK_FALSE(has(html, "\n· "));
  }
  SUBCASE("cancelled in development") {
    f.detail.task.stage = task_stage::cancelled;
    f.detail.pipeline.history.push_back(
        "development>cancelled@2026-04-01 09:50:00");
    auto html = card::render(f, t0, opts);
    CHECK(has(html, "✓ architecture"));
    CHECK(has(html, "✗ development: cancelled"));
    CHECK(has(html, "· ci"));
    CHECK(has(html, "\n✗ <b>cancelled</b>"));
  }
}

TEST_CASE("card: escaping, emoji and Cyrillic") {
  auto f = developing();
  f.detail.task.title = "Fix <script> & \"quotes\" 🚀 в корзине";
  f.detail.pipeline.stuck_reason = "exit 1: a < b && c > d";
  f.blocked_by = {"ET-<1>"};
  auto html = card::render(f, t0, {});
  CHECK(has(html, "Fix &lt;script&gt; &amp; &quot;quotes&quot; 🚀 в корзине"));
  CHECK(has(html, "exit 1: a &lt; b &amp;&amp; c &gt; d"));
  CHECK_FALSE(has(html, "<script>"));
  CHECK(html.rfind("<b>ET-042</b>", 0) == 0);
}

TEST_CASE("card: long titles and reasons are shortened at a character") {
  auto f = developing();
  std::string title;
  for (int i = 0; i < 2000; ++i)
    title += "я&";
  f.detail.task.title = title;
  f.detail.pipeline.stuck_reason = std::string(10'000, '<');
  f.frozen.clear();
  for (int i = 0; i < 300; ++i)
    f.blocked_by.push_back("ET-" + std::to_string(i));
  f.detail.pipeline.stuck_reason.clear();
  f.detail.task.stage = task_stage::review;
  for (int i = 0; i < 500; ++i)
    f.detail.runs.push_back(
        run("developer", "2026-04-01 09:46:00", "2026-04-01 09:47:00", 1.0));
  auto html = card::render(f, t0, {});
  CHECK(html.size() <= 4096);
  CHECK(has(html, "…"));
  CHECK(has(html, "500 runs"));
  CHECK(has(html, "and 290 more"));
  // Never an entity cut in two: every & starts a whole one.
  for (size_t at = html.find('&'); at != std::string::npos;
       at = html.find('&', at + 1)) {
    auto rest = html.substr(at, 6);
    CHECK((rest.rfind("&amp;", 0) == 0 || rest.rfind("&lt;", 0) == 0 ||
           rest.rfind("&gt;", 0) == 0 || rest.rfind("&quot;", 0) == 0));
  }
  SUBCASE("a limit far below Telegram's drops details, never the id") {
    card::options small;
    small.max_bytes = 600;
    f.detail.pipeline.stuck_reason = std::string(10'000, '<');
    auto short_html = card::render(f, t0, small);
    CHECK(short_html.size() <= 600);
    CHECK(has(short_html, "ET-042"));
    CHECK(has(short_html, "✗ <b>stuck</b>: &lt;"));
  }
}

TEST_CASE("card: helpers") {
  CHECK(card::shorten("abc", 3) == "abc");
  CHECK(card::shorten("abcd", 3) == "ab…");
  CHECK(card::shorten("привет", 4) == "при…");
  CHECK(card::shorten("🚀🚀🚀", 2) == "🚀…");
  CHECK(card::duration(45) == "45s");
  CHECK(card::duration(190) == "3m 10s");
  CHECK(card::duration(7500) == "2h 05m");
  CHECK(card::duration(273600) == "3d 4h");
  CHECK(card::count(950) == "950");
  CHECK(card::count(12'345) == "12.3k");
  CHECK(card::count(4'500'000) == "4.5M");
  CHECK(card::seconds_of("2026-04-01 10:00:00") == caf::optional<int64_t>{t0});
  CHECK(card::seconds_of("2026-04-01T10:00:00.123Z") ==
        caf::optional<int64_t>{t0});
  CHECK_FALSE(card::seconds_of("yesterday"));
  CHECK(card::work_item_url("https://x/{workspace}/p/{project}/i/{id}", "w",
                            "p1", "u1") == "https://x/w/p/p1/i/u1");
  CHECK(card::work_item_url("https://x/{workspace}/{id}", "", "p", "u") == "");
}
