// The agent contract's pure half: result parsing of every fixture,
// classification, backoff and what finalising writes.
#include "actors/logic/agent_result.hpp"

#include "tests/support/test.hpp"

using namespace orchd;

namespace {

constexpr int64_t now = 1767225000;

agent_result parse_fixture(const std::string& name) {
  return parse_agent_result(test::read_fixture(name), now);
}

job_row job(int64_t attempts, int64_t max_attempts, int64_t transient = 0) {
  job_row j;
  j.id = 7;
  j.agent = "developer";
  j.repo = "acme/widgets";
  j.status = job_status::running;
  j.attempts = attempts;
  j.max_attempts = max_attempts;
  j.transient_attempts = transient;
  return j;
}

} // namespace

TEST_CASE("a success result gives tokens, cost and the model") {
  auto r = parse_fixture("claude_result_success.json");
  REQUIRE(r.parsed);
  CHECK(r.subtype == "success");
  CHECK_FALSE(r.is_error);
  CHECK(r.usage.input_tokens == int64_t{21});
  CHECK(r.usage.output_tokens == int64_t{3120});
  CHECK(r.usage.cache_read_tokens == int64_t{201337});
  CHECK(r.usage.cache_creation_tokens == int64_t{14022});
  REQUIRE(r.usage.cost_usd);
  CHECK(*r.usage.cost_usd == doctest::Approx(0.4137));
  CHECK(r.model == "claude-sonnet-4-5-20250929");
  auto v = classify_run(r, 0);
  CHECK(v.kind == run_kind::success);
  CHECK(v.error.empty());
}

TEST_CASE("a 429 result is transient, whatever its subtype says") {
  auto r = parse_fixture("claude_result_rate_limited.json");
  REQUIRE(r.parsed);
  CHECK(r.subtype == "success");
  CHECK(r.is_error);
  CHECK(r.api_error_status == 429);
  auto v = classify_run(r, 0);
  CHECK(v.kind == run_kind::transient);
  CHECK(v.error == "error (api status 429): API Error: Rate limit reached");
}

TEST_CASE("a max-turns result is a code fault with its errors kept") {
  auto r = parse_fixture("claude_result_max_turns.json");
  REQUIRE(r.parsed);
  CHECK(r.usage.output_tokens == int64_t{9000});
  CHECK(r.model.empty()); // empty modelUsage
  auto v = classify_run(r, 1);
  CHECK(v.kind == run_kind::fault);
  CHECK(v.error == "error_max_turns: Reached maximum number of turns (30)");
}

TEST_CASE("the exit code alone decides nothing") {
  auto success = parse_fixture("claude_result_success.json");
  CHECK(classify_run(success, 1).kind == run_kind::success);
  agent_result nothing;
  CHECK(classify_run(nothing, 0).kind == run_kind::crash);
  CHECK(classify_run(nothing, 0).error == "agent crashed: exit code 0, no "
                                          "result");
  CHECK(classify_run(nothing, -9).error ==
        "agent crashed: killed by signal 9, no result");
}

TEST_CASE("529, overload and usage-limit texts are transient") {
  auto make = [](std::string text, int64_t status) {
    agent_result r;
    r.parsed = true;
    r.subtype = "success";
    r.is_error = true;
    r.api_error_status = status;
    r.text = std::move(text);
    return r;
  };
  CHECK(classify_run(make("boom", 529), 0).kind == run_kind::transient);
  CHECK(classify_run(make("API Error: Overloaded", 0), 0).kind ==
        run_kind::transient);
  CHECK(classify_run(make("Claude AI usage limit reached", 0), 0).kind ==
        run_kind::transient);
  CHECK(classify_run(make("Rate limit hit", 0), 0).kind == run_kind::transient);
  CHECK(classify_run(make("tool failed", 500), 0).kind == run_kind::fault);
  auto not_error = make("rate limit mentioned in a fine answer", 0);
  not_error.is_error = false;
  not_error.subtype = "error_during_execution";
  CHECK(classify_run(not_error, 0).kind == run_kind::fault);
}

TEST_CASE("an array counts by its last result element") {
  std::string text = R"([{"type":"system","subtype":"init"},
    {"type":"result","subtype":"error_max_turns","is_error":true},
    {"type":"assistant"},
    {"type":"result","subtype":"success","is_error":false,
     "usage":{"input_tokens":5,"output_tokens":6},"total_cost_usd":0.5}])";
  auto r = parse_agent_result(text, now);
  REQUIRE(r.parsed);
  CHECK(r.subtype == "success");
  CHECK(r.usage.output_tokens == int64_t{6});
  std::string none = R"([{"type":"system"},{"type":"assistant"}])";
  CHECK_FALSE(parse_agent_result(none, now).parsed);
}

TEST_CASE("noise before the result is skipped, noise alone is no result") {
  auto body = test::read_fixture("claude_result_success.json");
  auto r = parse_agent_result("starting...\n{not json\n" + body + "\n", now);
  REQUIRE(r.parsed);
  CHECK(r.usage.output_tokens == int64_t{3120});
  CHECK_FALSE(parse_agent_result("", now).parsed);
  CHECK_FALSE(parse_agent_result("xxxx\nyyyy", now).parsed);
  CHECK_FALSE(parse_agent_result("{\"type\":\"result\"", now).parsed);
  CHECK_FALSE(parse_agent_result("42\n\"text\"", now).parsed);
}

TEST_CASE("a server's hint: retry_after, or a usage limit's reset time") {
  auto r = parse_agent_result(
      R"({"type":"result","subtype":"success","is_error":true,
          "api_error_status":429,"retry_after":42,"result":"x"})",
      now);
  CHECK(r.retry_after_s == 42);
  CHECK(classify_run(r, 0).retry_after_s == 42);
  auto reset = parse_agent_result(
      R"({"type":"result","subtype":"success","is_error":true,
          "result":"Claude AI usage limit reached|)" +
          std::to_string(now + 3600) + "\"}",
      now);
  CHECK(reset.retry_after_s == 3600);
  CHECK(classify_run(reset, 0).kind == run_kind::transient);
  auto past = parse_agent_result(
      R"({"type":"result","is_error":true,"result":"usage limit reached|10"})",
      now);
  CHECK(past.retry_after_s == 0);
}

TEST_CASE("backoff: min(2^n x base, cap), the hint a floor up to a day") {
  CHECK(transient_delay_s(1, 10, 600, 0) == 20);
  CHECK(transient_delay_s(2, 10, 600, 0) == 40);
  CHECK(transient_delay_s(5, 10, 600, 0) == 320);
  CHECK(transient_delay_s(6, 10, 600, 0) == 600);
  CHECK(transient_delay_s(63, 10, 600, 0) == 600);
  CHECK(transient_delay_s(1000, 10, 600, 0) == 600);
  CHECK(transient_delay_s(1, 10, 600, 90) == 90);
  CHECK(transient_delay_s(3, 10, 600, 30) == 80);
  CHECK(transient_delay_s(1, 10, 600, 5 * 3600) == 5 * 3600);
  CHECK(transient_delay_s(1, 10, 600, 10 * 24 * 3600) == 24 * 3600);
}

TEST_CASE("run kinds round-trip through their stored names") {
  for (auto k : {run_kind::success, run_kind::transient, run_kind::fault,
                 run_kind::crash, run_kind::timeout, run_kind::cancelled,
                 run_kind::shutdown})
    CHECK(parse_run_kind(to_string(k)) == k);
  CHECK_FALSE(parse_run_kind(""));
  CHECK_FALSE(parse_run_kind("exploded"));
}

TEST_CASE("finalising: done, retry, fail, backoff, cancel, shutdown") {
  retry_policy backoff{10, 600};
  SUBCASE("success is done, guarded on the run") {
    auto p = plan_finalise(job(1, 2), 5, {run_kind::success, "", 0}, backoff);
    CHECK_FALSE(p.is_transient());
    CHECK(p.mark().status == job_status::done);
    CHECK(p.mark().expected_run_id == int64_t{5});
    CHECK(p.mark().run_id == int64_t{5});
  }
  SUBCASE("a fault retries while attempts remain, then fails") {
    auto again =
        plan_finalise(job(1, 2), 5, {run_kind::fault, "boom", 0}, backoff);
    CHECK(again.mark().status == job_status::queued);
    CHECK(again.mark().error == std::string{"boom"});
    auto last =
        plan_finalise(job(2, 2), 5, {run_kind::crash, "boom", 0}, backoff);
    CHECK(last.mark().status == job_status::failed);
    auto timeout =
        plan_finalise(job(2, 2), 5, {run_kind::timeout, "t", 0}, backoff);
    CHECK(timeout.mark().status == job_status::failed);
  }
  SUBCASE("transient backs off by transient attempts, not attempts") {
    auto p = plan_finalise(job(2, 2, 2), 5, {run_kind::transient, "429", 0},
                           backoff);
    REQUIRE(p.is_transient());
    CHECK(p.requeue().delay_s == 80);
    CHECK(p.requeue().expected_run_id == int64_t{5});
    auto hinted =
        plan_finalise(job(1, 2), 5, {run_kind::transient, "429", 300}, backoff);
    CHECK(hinted.requeue().delay_s == 300);
  }
  SUBCASE("transient failures have a budget; the last one fails the job") {
    auto limited = backoff;
    limited.max_transient_attempts = 3;
    CHECK(
        plan_finalise(job(1, 2, 1), 5, {run_kind::transient, "429", 0}, limited)
            .is_transient());
    auto spent = plan_finalise(job(1, 2, 2), 5, {run_kind::transient, "429", 0},
                               limited);
    REQUIRE_FALSE(spent.is_transient());
    CHECK(spent.mark().status == job_status::failed);
    CHECK(spent.mark().error ==
          std::string{"failed transiently 3 times "
                      "(scheduler.max_transient_attempts), last: 429"});
    CHECK(spent.mark().expected_run_id == int64_t{5});
  }
  SUBCASE("cancelled fails; shutdown is an interruption, even on the last "
          "attempt") {
    auto c =
        plan_finalise(job(1, 2), 5, {run_kind::cancelled, "x", 0}, backoff);
    CHECK(c.mark().status == job_status::failed);
    CHECK(c.mark().error == std::string{"cancelled"});
    auto s = plan_finalise(job(2, 2), 5, {run_kind::shutdown, "stopped", 0},
                           backoff);
    REQUIRE(s.is_interruption());
    CHECK(s.interrupted().expected_run_id == int64_t{5});
    CHECK(s.interrupted().max_interruptions == backoff.max_interruptions);
    CHECK(s.interrupted().error == "stopped");
    CHECK(s.interrupted().final_error.find("interrupted by orchd 3 times") ==
          0);
  }
}

TEST_CASE("fields of the wrong type or range read as absent, never throw") {
  // Found by fuzzing: a string is_error threw nlohmann's type_error out of
  // the runner.
  auto garbled = parse_agent_result(
      R"({"type":"result","subtype":"success","is_error":"0bd0a"})", now);
  CHECK(garbled.parsed);
  CHECK(garbled.is_error);
  CHECK(classify_run(garbled, 0).kind != run_kind::success);
  auto odd = parse_agent_result(
      R"({"type":"result","subtype":7,"is_error":false,"result":["x"],
          "api_error_status":"429","retry_after":1e300,"total_cost_usd":-1,
          "usage":{"input_tokens":18446744073709551615,"output_tokens":2.5,
                   "cache_read_input_tokens":"9"}})",
      now);
  CHECK(odd.parsed);
  CHECK(odd.subtype.empty());
  CHECK(odd.text.empty());
  CHECK(odd.api_error_status == 0);
  CHECK(odd.retry_after_s == 0);
  CHECK_FALSE(odd.usage.cost_usd);
  CHECK_FALSE(odd.usage.input_tokens);
  CHECK(odd.usage.output_tokens.value_or(0) == 2);
  CHECK_FALSE(odd.usage.cache_read_tokens);
  // In an array, an element whose type is not a string is no result.
  CHECK_FALSE(parse_agent_result(R"([{"type":1}])", now).parsed);
}
