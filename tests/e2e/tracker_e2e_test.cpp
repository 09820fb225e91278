// The Telegram tracker through the real daemon: the pipeline's world (real
// git, the fake agent, fake Plane) with a fake Bot API on loopback that
// keeps each chat's messages and records every call, so the tests see the
// cards a team would see.
#include "tests/support/pipeline_world.hpp"

#include <algorithm>

using namespace orchd;
using namespace orchd::test;
using json = nlohmann::json;

namespace {

const std::string token = "123456:TEST-token-of-the-bot";

// The token, and a slow agent (a [<agent>_fake:slow] tag) sleeps a second:
// a task's first card goes out before its analyst ends.
std::map<std::string, std::string> with_token() {
  return {{"ORCHD_TELEGRAM_TOKEN", token}, {"FAKE_AGENT_SLEEP_S", "1"}};
}

// Every task's analyst may run at once (the serial gate holds a repo's
// next task until the one before is done); a job claimed before its
// worktree is made is tried again a second later.
json no_serial_gate() {
  return {{"scheduler",
           {{"serial_gate_agents", json::array()},
            {"backoff_base_s", 1},
            {"backoff_cap_s", 1}}}};
}

// The ledger's open cards of the work item's task, and its current one.
std::string ledger(pipeline_world& w, const std::string& wi) {
  return w.sql("SELECT COUNT(*), MAX(m.message_id = t.tracker_message_id) "
               "FROM tracker_messages m JOIN tasks t ON t.id = m.task_id "
               "WHERE m.deleted_at IS NULL AND t.work_item_id = '" +
               wi + "'");
}

// Waits until the work item has exactly one card in the chat, it is the
// ledger's only open card and the task's current one, and it says `says`.
void wait_for_one_card(pipeline_world& w, const std::string& wi,
                       const std::string& says) {
  std::string seen;
  REQUIRE_MESSAGE(w.proc->wait_until(
                      [&] {
                        auto cards = w.telegram.cards_of(chat, wi);
                        if (cards.size() != 1 || ledger(w, wi) != "1|1\n")
                          return false;
                        seen = w.telegram.live(chat)[cards[0]];
                        return seen.find(says) != std::string::npos &&
                               w.task_col(wi, "tracker_message_id") ==
                                   std::to_string(cards[0]);
                      },
                      std::chrono::seconds(60)),
                  wi << ": cards " << w.telegram.cards_of(chat, wi).size()
                     << ", ledger " << ledger(w, wi) << ", last seen:\n"
                     << seen << "\nthe daemon said:\n"
                     << w.proc->output());
}

size_t count_of(const std::vector<fake_telegram::call>& calls,
                const std::string& method) {
  return static_cast<size_t>(
      std::count_if(calls.begin(), calls.end(),
                    [&](const auto& c) { return c.method == method; }));
}

} // namespace

TEST_CASE("tracker: a task's life is one card, edited through its stages") {
  pipeline_world w{with_token()};
  w.work_item("item-1", 42, "Add <retry> & backoff [analyst_fake:slow]",
              "In Progress", "started");
  // The human gate bumps the card: a new one at the bottom, the first one
  // deleted.
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  wait_for_one_card(w, "ET-042", "waits for your review of the BRD");
  w.work_item("item-1", 42, "Add <retry> & backoff [analyst_fake:slow]",
              "Approved", "started");
  auto branch = w.task_col("ET-042", "branch");
  auto sha = w.wait_for_ci("ET-042");
  wait_for_one_card(w, "ET-042", "waits for CI on " + sha.substr(0, 7));
  w.ci(sha, branch, "success");
  w.wait_for("SELECT stage FROM tasks", "done\n");
  wait_for_one_card(w, "ET-042", "✓ <b>done</b>");
  auto card = w.telegram.live(chat).begin()->second;
  CHECK(card.find("Add &lt;retry&gt; &amp; backoff") != std::string::npos);
  CHECK(card.find("href=\"https://app.plane.so/acme/projects/" + plane_project +
                  "/issues/item-1\"") != std::string::npos);
  for (auto s :
       {"✓ analysis", "✓ approval", "✓ architecture", "✓ development", "✓ ci",
        "✓ review", "✓ deploy", "✓ verification", "<b>Total</b> $0.07"})
    CHECK_MESSAGE(card.find(s) != std::string::npos, s << " in\n" << card);
  auto calls = w.telegram.calls();
  for (auto& c : calls) {
    CHECK(c.token == token);
    CHECK(c.chat == chat);
    CHECK(c.status == 200);
  }
  // First card, the gate's bump, the finish's bump; each bump deleted the
  // card before it; every other change was an edit of the current card.
  CHECK(count_of(calls, "sendMessage") == 3);
  CHECK(count_of(calls, "deleteMessage") == 2);
  CHECK(count_of(calls, "editMessageText") >= 1);
  MESSAGE("calls for one task's walk: ", calls.size(), " (",
          count_of(calls, "sendMessage"), " sends, ",
          count_of(calls, "editMessageText"), " edits, ",
          count_of(calls, "deleteMessage"), " deletes)");
  // The token is never logged.
  CHECK(w.proc->output().find(token) == std::string::npos);
  CHECK(w.stop() == 0);
}

TEST_CASE("tracker: a delete that fails leaves two cards; the next bump one") {
  pipeline_world w{with_token()};
  w.telegram.fail_next("deleteMessage", 1, 502, "<html>Bad Gateway</html>");
  w.work_item("item-2", 2, "Flaky delete [analyst_fake:slow]", "In Progress",
              "started");
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  // The gate's bump sent its card, its delete of the first card failed:
  // both open, in the chat and in the ledger.
  REQUIRE(w.proc->wait_until([&] {
    return w.telegram.cards_of(chat, "ET-002").size() == 2 &&
           ledger(w, "ET-002") == "2|1\n" &&
           count_of(w.telegram.calls(), "deleteMessage") == 1;
  }));
  // The next bump (cancelled in Plane) deletes every older card.
  w.work_item("item-2", 2, "Flaky delete", "Cancelled", "cancelled");
  wait_for_one_card(w, "ET-002", "✗ <b>cancelled</b>");
  CHECK(w.sql("SELECT COUNT(*) FROM tracker_messages WHERE deleted_at IS "
              "NOT NULL") == "2\n");
}

TEST_CASE("tracker: 30 tasks at once never exceed a call per interval to a "
          "chat") {
  pipeline_world w{with_token(), no_serial_gate()};
  for (int i = 1; i <= 30; ++i)
    w.work_item("item-" + std::to_string(i), i, "Task " + std::to_string(i),
                "In Progress", "started");
  w.wait_for("SELECT COUNT(*) FROM tasks WHERE waiting = 'human_review'",
             "30\n", std::chrono::seconds(120));
  for (int i = 1; i <= 30; ++i) {
    char wi[16];
    std::snprintf(wi, sizeof wi, "ET-%03d", i);
    wait_for_one_card(w, wi, "waits for your review of the BRD");
  }
  auto calls = w.telegram.calls();
  CHECK(calls.size() >= 30);
  // The world's chat_interval_ms is 100: calls to the chat leave 100 ms
  // apart on the tracker's clock (the actor test checks that exactly);
  // here on arrival, with room for a loaded machine's scheduling jitter.
  auto closest = std::chrono::milliseconds(1000);
  for (size_t i = 1; i < calls.size(); ++i)
    closest =
        std::min(closest, std::chrono::duration_cast<std::chrono::milliseconds>(
                              calls[i].at - calls[i - 1].at));
  MESSAGE("30 tasks: ", calls.size(), " calls, closest two ", closest.count(),
          " ms apart");
  CHECK(closest.count() >= 70);
}

TEST_CASE("tracker: a 429's retry_after is waited out") {
  pipeline_world w{with_token()};
  auto limited = json::parse(read_fixture("telegram_429.json"));
  limited["parameters"]["retry_after"] = 2;
  w.telegram.fail_next("sendMessage", 1, 429, limited.dump());
  w.work_item("item-3", 3, "Rate limited", "In Progress", "started");
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  wait_for_one_card(w, "ET-003", "waits for your review of the BRD");
  auto calls = w.telegram.calls();
  REQUIRE(calls.size() >= 2);
  CHECK(calls[0].status == 429);
  CHECK(calls[1].at - calls[0].at >= std::chrono::seconds(2));
  CHECK(w.proc->output().find("Too Many Requests") != std::string::npos);
}

TEST_CASE("tracker: kill -9 around a card's send, then a restart") {
  pipeline_world w{with_token()};
  w.work_item("item-4", 4, "Crashy", "In Progress", "started");
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  wait_for_one_card(w, "ET-004", "waits for your review of the BRD");
  auto before = w.telegram.cards_of(chat, "ET-004");
  // The cancel comes a second after the card (stamps are whole seconds): a
  // restart can tell the card predates the finish.
  REQUIRE(w.proc->wait_until([&] {
    return w.sql("SELECT datetime('now') > MAX(created_at) FROM "
                 "tracker_messages") == "1\n";
  }));
  CHECK(w.stop() == 0);
  SUBCASE("killed after the new card is recorded: the restart deletes the "
          "older one") {
    w.next_start_env = {{"ORCHD_CRASH_AT", "after_card_record"}};
    w.start();
    // The cancel bumps: the new card is sent and recorded, then the daemon
    // dies before deleting the old one.
    w.work_item("item-4", 4, "Crashy", "Cancelled", "cancelled");
    w.proc->wait_exit();
    w.exited = true;
    CHECK(ledger(w, "ET-004") == "2|1\n");
    CHECK(w.telegram.cards_of(chat, "ET-004").size() == 2);
    w.start();
    wait_for_one_card(w, "ET-004", "✗ <b>cancelled</b>");
  }
  SUBCASE("killed after the send, before the record: one untracked card") {
    w.next_start_env = {{"ORCHD_CRASH_AT", "after_card_send"}};
    w.start();
    w.work_item("item-4", 4, "Crashy", "Cancelled", "cancelled");
    w.proc->wait_exit();
    w.exited = true;
    // The ledger never heard of the card sent just before the kill.
    CHECK(ledger(w, "ET-004") == "1|1\n");
    auto cards = w.telegram.cards_of(chat, "ET-004");
    REQUIRE(cards.size() == 2);
    auto untracked = cards.back();
    w.start();
    // The restart sees the task finished after its card: a new card, the
    // old one deleted; one open card in the ledger. The card sent before
    // the kill is the window README ("Telegram tracker") describes.
    REQUIRE(w.proc->wait_until([&] {
      auto now = w.telegram.cards_of(chat, "ET-004");
      return ledger(w, "ET-004") == "1|1\n" && now.size() == 2 &&
             now.front() == untracked;
    }));
    auto current = w.task_col("ET-004", "tracker_message_id");
    CHECK(current != std::to_string(untracked));
    CHECK(current != std::to_string(before.front()));
  }
}

TEST_CASE("tracker: Telegram down for a while, then back") {
  pipeline_world w{with_token(), no_serial_gate()};
  w.telegram.go_down(true);
  for (int i = 1; i <= 3; ++i)
    w.work_item("item-" + std::to_string(i), i, "Down " + std::to_string(i),
                "In Progress", "started");
  // The pipeline does not wait for Telegram.
  w.wait_for("SELECT COUNT(*) FROM tasks WHERE waiting = 'human_review'",
             "3\n");
  CHECK(w.telegram.live(chat).empty());
  CHECK(w.sql("SELECT COUNT(*) FROM tracker_messages") == "0\n");
  w.telegram.go_down(false);
  for (auto wi : {"ET-001", "ET-002", "ET-003"})
    wait_for_one_card(w, wi, "waits for your review of the BRD");
  CHECK(w.telegram.live(chat).size() == 3);
}

TEST_CASE("tracker: without a token the daemon runs without it, said once") {
  pipeline_world w;
  w.work_item("item-1", 1, "No cards", "In Progress", "started");
  w.wait_for("SELECT stage, waiting FROM tasks", "analysis|human_review\n");
  CHECK(w.stop() == 0);
  auto out = w.proc->output();
  auto line = std::string{"running without the Telegram tracker"};
  auto first = out.find(line);
  CHECK(first != std::string::npos);
  CHECK(out.find(line, first + 1) == std::string::npos);
  CHECK(w.telegram.calls().empty());
}
