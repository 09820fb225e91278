// Intake's checks (pure) and the intake actor in front of a real storage
// actor under the deterministic scheduler.
#include "actors/intake/intake.hpp"

#include "actors/core/error.hpp"
#include "actors/logic/signature.hpp"
#include "http/server/answers.hpp"
#include "storage/storage_actor.hpp"
#include "tests/support/test.hpp"

#include <fstream>
#include <sstream>

using namespace orchd;

namespace {

intake_settings settings() {
  intake_settings s;
  s.github_secret = "gh-secret";
  s.plane_secret = "plane-secret";
  return s;
}

webhook_delivery github(const std::string& body, const std::string& event,
                        const std::string& delivery = "d-1") {
  return {"github", event, delivery,
          "sha256=" + hmac_sha256_hex("gh-secret", body), body};
}

webhook_delivery plane(const std::string& body,
                       const std::string& delivery = "p-1") {
  return {"plane", "issue", delivery, hmac_sha256_hex("plane-secret", body),
          body};
}

} // namespace

TEST_CASE("a delivery is refused before parsing when unsigned") {
  auto d = github("not even json", "check_run");
  d.signature.clear();
  auto out = check_delivery(d, settings());
  REQUIRE(out.refusal);
  CHECK(out.refusal == ec::bad_signature);
  auto s = settings();
  s.github_secret.clear();
  CHECK(check_delivery(github("{}", "ping"), s).refusal == ec::bad_signature);
  s.allow_unsigned_github = true;
  d.event_type = "ping";
  d.body = R"({"zen": "x"})";
  auto allowed = check_delivery(d, s);
  CHECK_FALSE(allowed.refusal);
  CHECK_FALSE(allowed.acted_on);
}

TEST_CASE("recorded but not acted on: ping, other Plane events, own user") {
  auto ping = check_delivery(github(R"({"zen": "x"})", "ping"), settings());
  CHECK_FALSE(ping.refusal);
  CHECK_FALSE(ping.acted_on);
  CHECK(ping.record.event_type == "ping");
  auto cycle = check_delivery(
      plane(R"({"event": "cycle", "action": "created", "data": {"id": "c"}})"),
      settings());
  CHECK_FALSE(cycle.acted_on);
  auto s = settings();
  s.plane_bot_user_id = "6bb20d1c-4960-41ca-af4f-cee01de160c4";
  auto own = check_delivery(
      plane(test::read_fixture("plane_issue_updated.body.json")), s);
  CHECK_FALSE(own.refusal);
  CHECK_FALSE(own.acted_on);
  CHECK(own.ignored_because.find("own Plane user") != std::string::npos);
}

TEST_CASE("a CI result that names its branches is mapped in the write") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  auto d = check_delivery(github(body, "check_run"), settings());
  REQUIRE_FALSE(d.refusal);
  CHECK(d.acted_on);
  CHECK(d.ci.repo == "acme/widgets");
  CHECK(d.ci.branches == std::vector<std::string>{"agent/PROJ-42"});
  CHECK(d.ci.result == "failure");
  // Not a CI kind: nothing to map.
  auto ping = check_delivery(github(R"({"zen": "x"})", "ping"), settings());
  CHECK(ping.ci.branches.empty());
}

TEST_CASE("GitHub headers outside their grammar are refused before anything "
          "is written") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  for (auto bad : {std::string{"ping\xff\xfe"}, std::string{"Check_Run"},
                   std::string{"check run"}}) {
    auto d = check_delivery(github(body, bad), settings());
    CHECK(d.refusal == ec::malformed_payload);
  }
  auto id = github(body, "check_run", "bad\nid");
  CHECK(check_delivery(id, settings()).refusal == ec::malformed_payload);
  auto long_id = github(body, "check_run", std::string(129, 'a'));
  CHECK(check_delivery(long_id, settings()).refusal == ec::malformed_payload);
  CHECK_FALSE(
      check_delivery(github(body, "check_run", "ok-1"), settings()).refusal);
}

TEST_CASE("a GitHub delivery without its id is refused; its body is a key") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  auto none = check_delivery(github(body, "check_run", ""), settings());
  CHECK(none.refusal == ec::malformed_payload);
  CHECK(describe(none.refusal) == "missing X-GitHub-Delivery header");
  // A replay under a new id shares the body key; another kind or body
  // does not.
  auto a = check_delivery(github(body, "check_run", "id-1"), settings());
  auto replay = check_delivery(github(body, "check_run", "id-2"), settings());
  auto other = check_delivery(github(body, "check_suite", "id-3"), settings());
  auto changed =
      check_delivery(github(body + " ", "check_run", "id-4"), settings());
  REQUIRE_FALSE(a.refusal);
  CHECK(a.record.body_key.rfind("github:", 0) == 0);
  CHECK(a.record.body_key == replay.record.body_key);
  CHECK(a.record.delivery_id != replay.record.delivery_id);
  CHECK(other.record.body_key != a.record.body_key);
  CHECK(changed.record.body_key != a.record.body_key);
}

TEST_CASE("without updated_at, Plane changes keep apart and retries do not") {
  auto first = R"({"event": "issue", "action": "updated",
                   "data": {"id": "item-1", "name": "Add retry"}})";
  auto second = R"({"event": "issue", "action": "updated",
                    "data": {"id": "item-1", "name": "Add retries"}})";
  auto a = check_delivery(plane(first, "d-1"), settings());
  auto retry = check_delivery(plane(first, "d-2"), settings());
  auto b = check_delivery(plane(second, "d-3"), settings());
  REQUIRE_FALSE(a.refusal);
  REQUIRE_FALSE(b.refusal);
  CHECK(a.record.delivery_id == retry.record.delivery_id);
  CHECK(a.record.delivery_id != b.record.delivery_id);
}

TEST_CASE("Plane retries map to one delivery key") {
  auto body = test::read_fixture("plane_issue_updated.body.json");
  auto a = check_delivery(plane(body, "first"), settings());
  auto b = check_delivery(plane(body, "retry"), settings());
  CHECK(a.acted_on);
  CHECK(a.record.delivery_id == b.record.delivery_id);
  CHECK(a.record.delivery_id.rfind("plane:", 0) == 0);
  CHECK(a.record.payload == body);
}

TEST_CASE_FIXTURE(test::actor_fixture,
                  "intake answers after the event is stored") {
  test::temp_dir dir;
  auto path = dir.file("o.db");
  auto store = storage::spawn_storage(sys, test::open_db(path), false);
  auto in = spawn_intake(sys, store, task_creator_actor{}, ci_events_actor{},
                         settings());
  run();
  std::vector<caf::expected<webhook_receipt>> answers;
  auto collect =
      reply_to<webhook_receipt>{[&](caf::expected<webhook_receipt> a) {
        answers.push_back(a);
      }};
  auto body = test::read_fixture("github_check_run_completed.body.json");
  self->send(in, atom::webhook_v, github(body, "check_run", "x-1"), collect);
  self->send(in, atom::webhook_v, github(body, "check_run", "x-1"), collect);
  auto bad = github(body, "check_run", "x-2");
  bad.signature = "sha256=00";
  self->send(in, atom::webhook_v, bad, collect);
  run();
  REQUIRE(answers.size() == 3);
  // Refused at once, before any write.
  CHECK(answers[0].error() == ec::bad_signature);
  REQUIRE(answers[1]);
  CHECK(answers[1]->event_id > 0);
  CHECK_FALSE(answers[1]->duplicate);
  REQUIRE(answers[2]);
  CHECK(answers[2]->duplicate);
  auto db = test::open_db(path);
  CHECK(test::sql_rows(*db, "SELECT COUNT(*) FROM events") == "1\n");
  // Handled by the write itself (no task is on the branch): nothing is
  // left for ci_events, which this intake does not even have.
  CHECK(test::sql_rows(*db, "SELECT processed, task_id, ci_branch, ci_result "
                            "FROM events") == "1|NULL|agent/PROJ-42|failure\n");
  self->send_exit(store, caf::exit_reason::user_shutdown);
  self->send(in, atom::webhook_v, github(body, "check_run", "x-3"), collect);
  run();
  REQUIRE(answers.size() == 4);
  REQUIRE_FALSE(answers[3]);
  CHECK(http::status_of(answers[3].error()) == 503);
  self->send_exit(in, caf::exit_reason::user_shutdown);
  run();
}
