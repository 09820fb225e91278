// What the HTTP surface shows for each typed answer and error.
#include "http/server/answers.hpp"

#include "actors/core/error.hpp"
#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

using namespace orchd;
using namespace orchd::http;
using json = nlohmann::json;

TEST_CASE("every error an actor answers has the status its meaning says") {
  CHECK(status_of(caf::make_error(ec::bad_signature, "x")) == 401);
  CHECK(status_of(caf::make_error(ec::malformed_payload, "x")) == 400);
  CHECK(status_of(caf::make_error(ec::invalid_argument, "x")) == 400);
  CHECK(status_of(caf::make_error(ec::no_such_task, "x")) == 404);
  CHECK(status_of(caf::make_error(ec::no_such_job, "x")) == 404);
  CHECK(status_of(caf::make_error(ec::not_frozen, "x")) == 404);
  CHECK(status_of(caf::make_error(ec::conflict, "x")) == 409);
  CHECK(status_of(caf::make_error(ec::dependency_cycle, "x")) == 409);
  CHECK(status_of(caf::make_error(ec::storage_failed, "x")) == 503);
  CHECK(status_of(caf::make_error(caf::sec::request_timeout)) == 503);
  auto a = answer_error(caf::make_error(ec::conflict, "job 3 is done"));
  CHECK(a.status == 409);
  CHECK(json::parse(a.body)["error"] == "job 3 is done");
}

TEST_CASE("a webhook receipt answers 200, 200 duplicate or 202 ignored") {
  auto fresh = answer(webhook_receipt{7, false, {}});
  CHECK(fresh.status == 200);
  CHECK(json::parse(fresh.body)["event_id"] == 7);
  auto dup = answer(webhook_receipt{0, true, {}});
  CHECK(dup.status == 200);
  CHECK(json::parse(dup.body)["duplicate"] == true);
  auto ignored = answer(webhook_receipt{8, false, "ping"});
  CHECK(ignored.status == 202);
  CHECK(json::parse(ignored.body)["ignored"] == "ping");
}

TEST_CASE("text that is not UTF-8 is replaced, never thrown on") {
  auto a = error_answer(400, std::string{"bad \xff\xfe header"});
  CHECK(a.status == 400);
  auto text = json::parse(a.body)["error"].get<std::string>();
  CHECK(text.find("bad ") == 0);
  job_row j;
  j.id = 1;
  j.error = std::string{"agent said \xc3"};
  CHECK(json::parse(answer(j).body)["id"] == 1);
}

TEST_CASE("the queue lists every running job apart from the recent ones") {
  queue_summary q;
  q.counts.running = 2;
  for (int64_t id : {1, 2}) {
    job_row j;
    j.id = id;
    j.status = job_status::running;
    q.running.push_back(j);
  }
  auto body = json::parse(answer(q).body);
  CHECK(body["counts"]["running"] == 2);
  CHECK(body["running"].size() == 2);
  // States show as their legacy text, as the database holds them.
  CHECK(body["running"][0]["status"] == "running");
  CHECK(body["recent"].empty());
}

TEST_CASE("a task's stage shows as its legacy text") {
  task_row t;
  t.id = 3;
  t.stage = task_stage::development;
  CHECK(json::parse(answer(t).body)["stage"] == "development");
}
