// `orchd console backup` (POST /backup) through the real daemon while
// webhooks stream in: the copy is made by the storage actor with SQLite's
// online backup API, passes integrity_check and holds every event
// acknowledged before it began.
#include "tests/support/pipeline_world.hpp"

#include <atomic>
#include <thread>

using namespace orchd;
using namespace orchd::test;
using json = nlohmann::json;

namespace {

std::string backup(pipeline_world& w, const std::string& path,
                   const std::string& token = admin_token) {
  auto body = json{{"path", path}}.dump();
  return w.post("/backup", "Authorization: Bearer " + token + "\r\n", body);
}

std::string body_of(const std::string& res) {
  return res.substr(res.find("\r\n\r\n") + 4);
}

} // namespace

TEST_CASE("backup: a consistent copy while webhooks stream in") {
  pipeline_world w;
  std::ifstream in{ORCHD_FIXTURES_DIR "/github_check_run_completed.body.json"};
  auto sample = json::parse(in);
  // One sender, in order: the first `acked` deliveries were answered 200.
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::thread sender{[&] {
    for (int i = 1; !stop && i <= 5000; ++i) {
      auto body = sample;
      body["check_run"]["head_sha"] = std::string(40, 'b');
      body["check_run"]["id"] = i;
      auto raw = body.dump();
      auto res =
          w.post("/webhooks/github",
                 "X-GitHub-Event: check_run\r\nX-GitHub-Delivery: "
                 "stream-" +
                     std::to_string(i) + "\r\nX-Hub-Signature-256: sha256=" +
                     hmac_sha256_hex(github_secret, raw) + "\r\n",
                 raw);
      if (status_of(res) != 200) {
        ++refused;
        return;
      }
      acked = i;
    }
  }};
  REQUIRE(w.proc->wait_until([&] { return acked >= 100; }));
  auto before = acked.load();
  auto copy = w.dir.file("copy.db");
  // The operator's way: the console, its answer as JSON.
  setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
  auto [code, out] = run_to_end(ORCHD_BINARY,
                                {"console", "--url",
                                 "http://127.0.0.1:" + std::to_string(w.port),
                                 "--json", "backup", copy},
                                w.dir.path().string());
  unsetenv("ORCHD_ADMIN_TOKEN");
  auto after = acked.load();
  REQUIRE(w.proc->wait_until([&] { return acked >= after + 50; }));
  stop = true;
  sender.join();
  CHECK(refused == 0);
  REQUIRE_MESSAGE(code == 0, out);
  auto answer = json::parse(out);
  CHECK(answer["path"] == copy);
  CHECK(answer["pages"].get<int64_t>() > 0);
  CHECK(answer["bytes"].get<int64_t>() ==
        static_cast<int64_t>(std::filesystem::file_size(copy)));
  CHECK_FALSE(std::filesystem::exists(copy + ".partial"));
  auto db = open_db(copy);
  CHECK(sql_rows(*db, "PRAGMA integrity_check") == "ok\n");
  // Every delivery acknowledged before the backup began is in the copy;
  // the copy holds no more than was acknowledged by its end.
  auto n = std::stoi(sql_value(
      *db, "SELECT COUNT(*) FROM events WHERE delivery_id LIKE 'stream-%'"));
  CHECK(n >= before);
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM events WHERE delivery_id IN "
                       "('stream-1', 'stream-" +
                           std::to_string(before) + "')") == "2");
  MESSAGE("backup began after ", before, " acknowledged deliveries, ended by ",
          after, "; the copy holds ", n);
  CHECK(n <= after + 1);
}

TEST_CASE("backup: refusals say why and leave nothing behind") {
  pipeline_world w;
  auto copy = w.dir.file("copy.db");
  CHECK(status_of(backup(w, "relative.db")) == 400);
  CHECK(status_of(backup(w, w.dir.file("no/such/folder/x.db"))) == 400);
  CHECK(status_of(backup(w, copy, "wrong-token-wrong-token-wrong-token!")) ==
        401);
  CHECK_FALSE(std::filesystem::exists(copy));
  REQUIRE(status_of(backup(w, copy)) == 200);
  // Never over an existing file (the first copy is kept as it was).
  auto size = std::filesystem::file_size(copy);
  auto again = backup(w, copy);
  CHECK(status_of(again) == 409);
  CHECK(body_of(again).find("exists") != std::string::npos);
  CHECK(std::filesystem::file_size(copy) == size);
  CHECK(status_of(w.post("/backup",
                         "Authorization: Bearer " + admin_token + "\r\n",
                         "[1]")) == 400);
}
