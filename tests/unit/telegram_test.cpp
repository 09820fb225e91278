// Telegram's Bot API as the tracker calls it (requests, the recorded error
// answers classified), and the tracker's queue: coalescing and the rate
// limits under a fake clock.
#include "actors/logic/card_queue.hpp"
#include "actors/logic/telegram_api.hpp"

#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

using namespace orchd;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

outbound_response answer(int status, std::string body) {
  outbound_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

} // namespace

TEST_CASE("Bot API requests: method, token in the path, HTML, chat ids") {
  telegram::endpoint e{"https://api.telegram.org/", "123:SECRET"};
  auto send = telegram::send_message(e, "-1001234", "<b>x</b>");
  CHECK(send.method == "POST");
  CHECK(send.url == "https://api.telegram.org/bot123:SECRET/sendMessage");
  auto body = json::parse(send.body);
  CHECK(body["chat_id"] == -1001234);
  CHECK(body["text"] == "<b>x</b>");
  CHECK(body["parse_mode"] == "HTML");
  auto edit = telegram::edit_message(e, "@team", 55, "y");
  CHECK(edit.url == "https://api.telegram.org/bot123:SECRET/editMessageText");
  CHECK(json::parse(edit.body)["chat_id"] == "@team");
  CHECK(json::parse(edit.body)["message_id"] == 55);
  auto del = telegram::delete_message(e, "-1", 56);
  CHECK(del.url == "https://api.telegram.org/bot123:SECRET/deleteMessage");
  CHECK(json::parse(del.body)["message_id"] == 56);
  CHECK(telegram::redact("GET /bot123:SECRET/x failed: 123:SECRET",
                         "123:SECRET") == "GET /bot<token>/x failed: <token>");
}

TEST_CASE("Bot API answers: the recorded errors classified") {
  using k = telegram::answer;
  auto sent = telegram::classify(
      answer(200, R"({"ok":true,"result":{"message_id":812,"date":1}})"));
  CHECK(sent.kind == k::ok);
  CHECK(sent.message_id == 812);
  CHECK(telegram::classify(answer(200, R"({"ok":true,"result":true})")).kind ==
        k::ok);
  auto limited =
      telegram::classify(answer(429, test::read_fixture("telegram_429.json")));
  CHECK(limited.kind == k::retry);
  CHECK(limited.retry_after_s == 17);
  CHECK(limited.error_code == 429);
  CHECK(limited.description == "Too Many Requests: retry after 17");
  CHECK(telegram::classify(
            answer(400, test::read_fixture("telegram_not_modified.json")))
            .kind == k::not_modified);
  CHECK(telegram::classify(
            answer(400, test::read_fixture("telegram_delete_not_found.json")))
            .kind == k::gone);
  CHECK(telegram::classify(
            answer(400, test::read_fixture("telegram_cant_delete.json")))
            .kind == k::gone);
  CHECK(telegram::classify(
            answer(400, R"({"ok":false,"error_code":400,"description":"Bad )"
                        R"(Request: message to edit not found"})"))
            .kind == k::gone);
  auto bad_chat = telegram::classify(answer(
      400,
      R"({"ok":false,"error_code":400,"description":"Bad Request: chat not found"})"));
  CHECK(bad_chat.kind == k::refused);
  CHECK(bad_chat.description == "Bad Request: chat not found");
  CHECK(telegram::classify(answer(401, R"({"ok":false,"error_code":401,)"
                                       R"("description":"Unauthorized"})"))
            .kind == k::refused);
  CHECK(telegram::classify(answer(502, "<html>Bad Gateway</html>")).kind ==
        k::retry);
  CHECK(telegram::classify(answer(200, "<html>captive portal</html>")).kind ==
        k::retry);
  outbound_response none;
  none.error = "connection refused";
  auto down = telegram::classify(none);
  CHECK(down.kind == k::retry);
  CHECK(down.description == "connection refused");
}

TEST_CASE("card queue: changes within the window become one entry") {
  card_queue q{{500ms, 1000ms, 30}};
  card_queue::time_point t{};
  t += 10s;
  q.mark(1, "chat", false, t);
  q.mark(1, "chat", false, t + 100ms);
  q.mark(1, "chat", true, t + 400ms);
  CHECK(q.size() == 1);
  CHECK_FALSE(q.take(t + 499ms));
  CHECK(q.next_due(t + 499ms) == t + 500ms);
  auto e = q.take(t + 500ms);
  REQUIRE(e);
  CHECK(e->task_id == 1);
  CHECK(e->bump);
  CHECK(e->edit);
  CHECK(e->since == t);
  CHECK(q.size() == 0);
  CHECK_FALSE(q.next_due(t + 500ms));
  // Extra cards to delete only; a change then asks for an edit too.
  q.mark(2, "chat", false, t, false);
  q.mark(3, "chat", false, t, false);
  q.mark(3, "chat", false, t);
  auto cleanup = q.take(t + 500ms);
  REQUIRE(cleanup);
  CHECK_FALSE(cleanup->edit);
  auto both = q.take(t + 500ms);
  REQUIRE(both);
  CHECK(both->edit);
}

TEST_CASE("card queue: one call a second per chat, 30 a second in all") {
  card_queue q{{0ms, 1000ms, 30}};
  card_queue::time_point t{};
  t += 10s;
  for (int64_t task = 1; task <= 3; ++task)
    q.mark(task, "a", false, t);
  q.mark(4, "b", false, t);
  auto first = q.take(t);
  REQUIRE(first);
  q.called(first->chat, t);
  CHECK(first->task_id == 1);
  // Chat a is busy for a second; chat b is not.
  auto second = q.take(t);
  REQUIRE(second);
  CHECK(second->task_id == 4);
  q.called(second->chat, t);
  CHECK_FALSE(q.take(t + 999ms));
  CHECK(q.next_due(t) == t + 1000ms);
  auto third = q.take(t + 1000ms);
  REQUIRE(third);
  CHECK(third->task_id == 2);
  SUBCASE("the shared limit") {
    card_queue wide{{0ms, 1000ms, 30}};
    for (int64_t task = 1; task <= 40; ++task)
      wide.mark(task, "chat-" + std::to_string(task), false, t);
    int taken = 0;
    while (auto e = wide.take(t)) {
      wide.called(e->chat, t);
      ++taken;
    }
    CHECK(taken == 30);
    CHECK(wide.next_due(t) == t + 1s);
    int later = 0;
    while (auto e = wide.take(t + 1s)) {
      wide.called(e->chat, t + 1s);
      ++later;
    }
    CHECK(later == 10);
  }
}

TEST_CASE("card queue: a 429 holds its chat; put back merges a change") {
  card_queue q{{200ms, 1000ms, 30}};
  card_queue::time_point t{};
  t += 10s;
  q.mark(1, "a", false, t);
  auto e = q.take(t + 200ms);
  REQUIRE(e);
  q.called("a", t + 200ms);
  q.hold("a", t + 17s);
  // A change while the call was out, then the entry comes back.
  q.mark(1, "a", true, t + 300ms);
  q.put_back(*e, t + 300ms);
  CHECK(q.size() == 1);
  CHECK_FALSE(q.take(t + 16s));
  CHECK(q.next_due(t + 1s) == t + 17s);
  auto again = q.take(t + 17s);
  REQUIRE(again);
  CHECK(again->bump);
  CHECK(again->since == t);
}
