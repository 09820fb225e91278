// The tracker under the deterministic scheduler and its fake clock, in
// front of a real storage actor, with a recording stand-in for the Bot API:
// a task's changes within the window become one call, a bump's card is
// recorded before the older one is deleted, a chat's interval and a 429's
// retry_after are kept, and a delete that failed is done by the sweep.
#include "actors/tracker/tracker.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

using namespace orchd;
using namespace std::chrono_literals;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

struct tracker_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage_actor store = storage::spawn_storage(sys, db, false);
  storage::store st{*db};
  /// "method message_id" of every call, in order.
  std::shared_ptr<std::vector<std::string>> calls =
      std::make_shared<std::vector<std::string>>();
  /// Answers for the next calls (status, body), front first; then success.
  std::shared_ptr<std::vector<std::pair<int, std::string>>> script =
      std::make_shared<std::vector<std::pair<int, std::string>>>();
  int64_t task_id = 0;

  tracker_fixture() {
    work_item_request x;
    x.plane_id = "p-1";
    x.repo = "acme/widgets";
    x.prefix = "ET";
    x.sequence_id = 7;
    x.first_content = "x";
    task_id = unbox(st.create_work_item(x)).task.id;
  }

  ~tracker_fixture() { stop(store); }

  tracker_actor spawn_tracker() {
    tracker_settings s;
    s.endpoint = {"https://api.telegram.test", "tok"};
    s.chats = {{"acme/widgets", "-1"}};
    s.limits = {500ms, 1000ms, 30};
    auto log = calls;
    auto answers = script;
    auto next_id = std::make_shared<int64_t>(100);
    outbound_send send = [log, answers, next_id](const outbound_request& r) {
      auto method = r.url.substr(r.url.rfind('/') + 1);
      auto body = nlohmann::json::parse(r.body);
      outbound_response res;
      res.status = 200;
      if (!answers->empty()) {
        std::tie(res.status, res.body) = answers->front();
        answers->erase(answers->begin());
      } else if (method == "sendMessage") {
        res.body = R"({"ok":true,"result":{"message_id":)" +
                   std::to_string((*next_id)++) + "}}";
      } else {
        res.body = R"({"ok":true,"result":true})";
      }
      log->push_back(method + " " +
                     (method == "sendMessage"
                          ? std::string{"-"}
                          : std::to_string(body["message_id"].get<int64_t>())));
      return res;
    };
    return sys.spawn(card_keeper, store, s, send);
  }

  std::string ledger() {
    return sql_rows(*db, "SELECT message_id, deleted_at IS NOT NULL FROM "
                         "tracker_messages ORDER BY message_id") +
           "current " + sql_rows(*db, "SELECT tracker_message_id FROM tasks");
  }
};

} // namespace

TEST_CASE_FIXTURE(tracker_fixture,
                  "changes within the window become one call; a bump records "
                  "its card before deleting the older one") {
  auto tracker = spawn_tracker();
  run();
  // At start the unfinished task is due, after the coalescing window.
  CHECK(calls->empty());
  sched.advance_time(500ms);
  run();
  CHECK(*calls == std::vector<std::string>{"sendMessage -"});
  CHECK(ledger() == "100|0\ncurrent 100\n");
  // Three changes: one edit, at the chat's next slot (a second after the
  // send).
  for (int i = 0; i < 3; ++i)
    self->send(tracker, atom::card_v, task_id, false);
  run();
  sched.advance_time(500ms);
  run();
  CHECK(calls->size() == 1);
  sched.advance_time(500ms);
  run();
  CHECK(calls->back() == "editMessageText 100");
  CHECK(calls->size() == 2);
  // A bump: a new card, recorded; the old one deleted a second later.
  self->send(tracker, atom::card_v, task_id, true);
  run();
  sched.advance_time(1000ms);
  run();
  CHECK(calls->back() == "sendMessage -");
  CHECK(ledger() == "100|0\n101|0\ncurrent 101\n");
  sched.advance_time(999ms);
  run();
  CHECK(calls->size() == 3);
  sched.advance_time(1ms);
  run();
  CHECK(calls->back() == "deleteMessage 100");
  CHECK(ledger() == "100|1\n101|0\ncurrent 101\n");
  stop(tracker);
}

TEST_CASE_FIXTURE(tracker_fixture, "a 429 holds the chat for its retry_after") {
  script->push_back({429, test::read_fixture("telegram_429.json")});
  auto tracker = spawn_tracker();
  run();
  sched.advance_time(500ms);
  run();
  CHECK(*calls == std::vector<std::string>{"sendMessage -"});
  CHECK(ledger() == "current NULL\n");
  sched.advance_time(16s);
  run();
  CHECK(calls->size() == 1);
  sched.advance_time(1s);
  run();
  CHECK(calls->size() == 2);
  CHECK(ledger() == "100|0\ncurrent 100\n");
  stop(tracker);
}

TEST_CASE_FIXTURE(tracker_fixture,
                  "a delete that fails stays open until the sweep") {
  auto tracker = spawn_tracker();
  run();
  sched.advance_time(500ms);
  run();
  self->send(tracker, atom::card_v, task_id, true);
  run();
  sched.advance_time(1000ms);
  run();
  CHECK(ledger() == "100|0\n101|0\ncurrent 101\n");
  script->push_back({502, "<html>Bad Gateway</html>"});
  sched.advance_time(1000ms);
  run();
  CHECK(calls->back() == "deleteMessage 100");
  CHECK(ledger() == "100|0\n101|0\ncurrent 101\n");
  // Nothing retries it until a bump or the sweep.
  sched.advance_time(10s);
  run();
  CHECK(calls->size() == 3);
  CHECK(unbox(ask<int64_t>(tracker, atom::sweep_v, false)) == 1);
  sched.advance_time(500ms);
  run();
  CHECK(calls->back() == "deleteMessage 100");
  CHECK(calls->size() == 4);
  CHECK(ledger() == "100|1\n101|0\ncurrent 101\n");
  stop(tracker);
}
