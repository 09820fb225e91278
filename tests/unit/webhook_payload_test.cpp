// Reading Plane and GitHub bodies: the recorded fixtures and hand-made
// variants of each event kind.
#include "actors/logic/webhook_payload.hpp"

#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace orchd;
using json = nlohmann::json;
using orchd::test::unbox;

namespace {

json fixture(const std::string& name) {
  return json::parse(test::read_fixture(name));
}

caf::expected<plane_event> plane(const json& body) {
  return parse_plane_event(body.dump());
}

caf::expected<ci_event> github(const std::string& kind, const json& body) {
  return parse_github_event(kind, body.dump());
}

std::string refusal(const caf::expected<plane_event>& ev) {
  REQUIRE_FALSE(ev);
  CHECK(ev.error() == ec::malformed_payload);
  return describe(ev.error());
}

} // namespace

TEST_CASE("nesting depth is bounded while parsing") {
  auto body = R"({"event": "issue", "data": {"id": 1, "x": [1, {"b": 2}]}})";
  CHECK(parse_plane_event(body, 4));
  CHECK(refusal(parse_plane_event(body, 3)) ==
        "JSON nested deeper than 3 levels");
  // Brackets inside strings do not count.
  auto ev = parse_plane_event(R"({"event": "[[[[\"{{", "data": {"id": 1}})", 2);
  CHECK_MESSAGE(ev, describe(ev.error()));
  auto deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(refusal(parse_plane_event(deep)) ==
        "JSON nested deeper than 64 levels");
  // The same limit holds on the next body the thread's parser reads.
  CHECK(parse_plane_event(body));
}

TEST_CASE("a body of megabytes parses, and so does the next small one") {
  // GitHub sends up to 25 MB; the thread's parser grows for it, then is
  // dropped rather than kept that large.
  std::string big = R"({"repository": {"full_name": "acme/widgets"}, "x": [)";
  for (int i = 0; i < 200000; ++i)
    big += i == 0 ? "\"0123456789abcdef\"" : ",\"0123456789abcdef\"";
  big += "]}";
  REQUIRE(big.size() > 3 * 1024 * 1024);
  CHECK(unbox(parse_github_event("ping", big)).repo == "acme/widgets");
  CHECK(unbox(parse_github_event("ping", R"({"repository": {"full_name":
          "acme/other"}})"))
            .repo == "acme/other");
}

TEST_CASE("malformed JSON and non-objects are refused, saying which") {
  CHECK(refusal(parse_plane_event("{\"event\": "))
            .rfind("body is not valid JSON: ", 0) == 0);
  CHECK(refusal(parse_plane_event("")).rfind("body is not valid JSON: ", 0) ==
        0);
  // Invalid UTF-8 inside a string.
  CHECK(refusal(parse_plane_event("{\"event\": \"\xff\"}"))
            .rfind("body is not valid JSON: ", 0) == 0);
  CHECK(refusal(parse_plane_event("[1, 2]")) == "expected a JSON object");
  CHECK_FALSE(parse_github_event("check_run", "42"));
}

TEST_CASE("Plane ids and new values read as text whatever their JSON type") {
  json body = {{"event", "issue"},
               {"data", {{"id", 17}}},
               {"activity", {{"field", "estimate"}, {"new_value", 2.5}}}};
  auto ev = unbox(plane(body));
  CHECK(ev.work_item_id == "17");
  CHECK(ev.activity_new_value == "2.5");
  // As nlohmann::json printed them, so keys stored before still match.
  body["activity"]["new_value"] = 3.0;
  CHECK(unbox(plane(body)).activity_new_value == "3.0");
  body["activity"]["new_value"] = true;
  CHECK(unbox(plane(body)).activity_new_value == "true");
  body["activity"]["new_value"] = nullptr;
  CHECK(unbox(plane(body)).activity_new_value.empty());
  body["activity"]["new_value"] = 18446744073709551615ull;
  CHECK(unbox(plane(body)).activity_new_value == "18446744073709551615");
}

TEST_CASE("the recorded Plane update") {
  auto ev = unbox(plane(fixture("plane_issue_updated.body.json")));
  CHECK(ev.event == "issue");
  CHECK(ev.action == "updated");
  CHECK(ev.work_item_id == "775c5716-5302-4617-bb9f-2cd843911268");
  CHECK(ev.project_id == "59e3be42-87ec-4950-99a3-ae639cf2b089");
  CHECK(ev.name == "Add retry to webhook sender");
  CHECK(ev.sequence_id == 42);
  CHECK(ev.state_name == "In Progress");
  CHECK(ev.state_group == "started");
  CHECK(ev.labels == std::vector<std::string>{"agent"});
  CHECK(ev.activity_field == "state_id");
  CHECK(ev.activity_new_value == "067b88e5-304b-4221-ba09-94340dcc36e5");
  CHECK(ev.actor_id == "6bb20d1c-4960-41ca-af4f-cee01de160c4");
  CHECK(ev.updated_at == "2026-03-31T11:50:02.101010Z");
}

TEST_CASE("Plane retries share a dedup key, other changes do not") {
  auto body = fixture("plane_issue_updated.body.json");
  auto a = unbox(plane(body));
  auto b = unbox(plane(body));
  CHECK(a.dedup_key() == b.dedup_key());
  body["data"]["updated_at"] = "2026-03-31T11:55:00Z";
  CHECK(unbox(plane(body)).dedup_key() != a.dedup_key());
}

TEST_CASE("Plane's older action names are accepted") {
  json body = {{"event", "issue"},
               {"action", "create"},
               {"data", {{"id", "w1"}, {"project", "p"}}}};
  CHECK(unbox(plane(body)).action == "created");
  body["action"] = "delete";
  CHECK(unbox(plane(body)).action == "deleted");
}

TEST_CASE("a Plane body without data.id is refused by name") {
  json body = {
      {"event", "issue"}, {"action", "updated"}, {"data", json::object()}};
  auto ev = plane(body);
  REQUIRE_FALSE(ev);
  CHECK(ev.error() == ec::malformed_payload);
  CHECK(describe(ev.error()) == "missing required field data.id");
  CHECK_FALSE(plane(json::array()));
}

TEST_CASE("the recorded GitHub check_run") {
  auto ev = unbox(
      github("check_run", fixture("github_check_run_completed.body.json")));
  CHECK(ev.repo == "acme/widgets");
  CHECK(ev.sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
  CHECK(ev.result == "failure");
  REQUIRE_FALSE(ev.branches.empty());
  CHECK(ev.branches[0] == "agent/PROJ-42");
  CHECK(ev.branches.size() == 1);
}

TEST_CASE("GitHub event kinds normalise to success, failure or pending") {
  json repo = {{"full_name", "acme/widgets"}};
  json status = {{"repository", repo},
                 {"sha", std::string(40, 'a')},
                 {"state", "error"},
                 {"branches", {{{"name", "agent/ET-1"}}}}};
  auto s = unbox(github("status", status));
  CHECK(s.result == "failure");
  CHECK(s.branches == std::vector<std::string>{"agent/ET-1"});
  status["state"] = "pending";
  CHECK(unbox(github("status", status)).result == "pending");

  json suite = {{"repository", repo},
                {"check_suite",
                 {{"head_sha", std::string(40, 'd')},
                  {"head_branch", "agent/ET-2"},
                  {"status", "completed"},
                  {"conclusion", "success"}}}};
  auto cs = unbox(github("check_suite", suite));
  CHECK(cs.result == "success");
  CHECK(cs.branches == std::vector<std::string>{"agent/ET-2"});

  json wf = {{"repository", repo},
             {"workflow_run",
              {{"head_sha", std::string(40, '1')},
               {"head_branch", "agent/ET-3"},
               {"status", "in_progress"},
               {"conclusion", nullptr}}}};
  CHECK(unbox(github("workflow_run", wf)).result == "pending");
  wf["workflow_run"]["status"] = "completed";
  wf["workflow_run"]["conclusion"] = "timed_out";
  CHECK(unbox(github("workflow_run", wf)).result == "failure");

  json pr = {
      {"repository", repo},
      {"action", "opened"},
      {"pull_request",
       {{"head", {{"ref", "agent/ET-4"}, {"sha", std::string(40, '9')}}}}}};
  auto p = unbox(github("pull_request", pr));
  CHECK(p.result.empty());
  CHECK(p.action == "opened");
  CHECK(p.branches == std::vector<std::string>{"agent/ET-4"});
}

TEST_CASE("a GitHub body without a repository is refused, except ping") {
  auto ev = github("check_run", json{{"check_run", json::object()}});
  REQUIRE_FALSE(ev);
  CHECK(describe(ev.error()) == "missing required field repository.full_name");
  CHECK(github("ping", json{{"zen", "Keep it logically awesome."}}));
}

TEST_CASE("a CI sha is a full commit id or the delivery is refused") {
  json run = {{"repository", {{"full_name", "acme/widgets"}}},
              {"check_run",
               {{"head_sha", "ec26c3e57ca3a959ca5aad62de7213c562f8c821"},
                {"status", "completed"},
                {"conclusion", "success"}}}};
  CHECK(github("check_run", run));
  for (std::string bad :
       {"ec26c3e", "EC26C3E57CA3A959CA5AAD62DE7213C562F8C821",
        "--output=/tmp/x", "ec26c3e57ca3a959ca5aad62de7213c562f8c8210",
        "ec26c3e57ca3a959ca5aad62de7213c562f8c82 "}) {
    CAPTURE(bad);
    run["check_run"]["head_sha"] = bad;
    auto ev = github("check_run", run);
    REQUIRE_FALSE(ev);
    CHECK(describe(ev.error()) == "sha: expected 40 lower-case hex digits");
  }
  // No sha at all (a ping, a status without one) is not a bad sha.
  run["check_run"].erase("head_sha");
  CHECK(github("check_run", run));
}

TEST_CASE("a Plane sequence id past the supported width is refused by name") {
  auto body = fixture("plane_issue_updated.body.json");
  body["data"]["sequence_id"] = max_sequence_id;
  CHECK(unbox(plane(body)).sequence_id == max_sequence_id);
  auto expected = "data.sequence_id: expected an integer from 1 to " +
                  std::to_string(max_sequence_id);
  // 19 and 20 digits (past int64), one past the width, zero, negative, text.
  for (json bad :
       {json(9223372036854775807ll), json(18446744073709551615ull),
        json(max_sequence_id + 1), json(0), json(-42), json("42"), json(4.2)}) {
    CAPTURE(bad.dump());
    body["data"]["sequence_id"] = bad;
    CHECK(refusal(plane(body)) == expected);
  }
  // Absent or null: no sequence id (the repo's numbering decides).
  body["data"]["sequence_id"] = nullptr;
  CHECK(unbox(plane(body)).sequence_id == 0);
  body["data"].erase("sequence_id");
  CHECK(unbox(plane(body)).sequence_id == 0);
}
