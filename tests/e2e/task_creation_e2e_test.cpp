// Task creation through the real daemon: concurrent deliveries of one work
// item, and kill -9 in the middle of a stream of deliveries.
#include "actors/logic/signature.hpp"
#include "actors/os/worktree.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

using namespace orchd;
using json = nlohmann::json;

namespace {

const std::string secret = "plane-e2e-secret";
const std::string github_secret = "github-e2e-secret";
const std::string plane_project = "59e3be42-87ec-4950-99a3-ae639cf2b089";

json work_item(const std::string& id, int seq, const std::string& updated) {
  std::ifstream in{ORCHD_FIXTURES_DIR "/plane_issue_updated.body.json"};
  auto body = json::parse(in);
  body["data"]["id"] = id;
  body["data"]["sequence_id"] = seq;
  body["data"]["name"] = "Work item " + std::to_string(seq);
  body["data"]["updated_at"] = updated;
  return body;
}

std::string request_for(const std::string& body, const std::string& delivery) {
  return "POST /webhooks/plane HTTP/1.1\r\nHost: t\r\n"
         "Content-Type: application/json\r\nX-Plane-Event: issue\r\n"
         "X-Plane-Delivery: " +
         delivery + "\r\nX-Plane-Signature: " + hmac_sha256_hex(secret, body) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

// Sends one request on a fresh connection and reads its response.
std::string deliver(uint16_t port, const std::string& raw) {
  test::connection c{port};
  c.send_raw(raw);
  return c.read_response();
}

struct plane_daemon {
  test::temp_dir& dir;
  std::string clone;
  std::unique_ptr<test::child_process> proc;
  uint16_t port = 0;

  plane_daemon(test::temp_dir& d, std::string clone_path)
      : dir(d)
      , clone(std::move(clone_path)) {
    std::ofstream{dir.file("orchd.json")} << json{
        {"listen", {{"port", 0}}},
        {"workspace_root", dir.file("work")},
        {"projects",
         {{{"repo", "acme/widgets"},
           {"prefix", "ET"},
           {"clone_path", clone},
           {"plane_project_id",
            plane_project}}}}}.dump();
    start();
  }

  void start() {
    setenv("ORCHD_PLANE_WEBHOOK_SECRET", secret.c_str(), 1);
    setenv("ORCHD_GITHUB_WEBHOOK_SECRET", github_secret.c_str(), 1);
    proc = std::make_unique<test::child_process>(
        ORCHD_BINARY,
        std::vector<std::string>{"serve", "--config", dir.file("orchd.json"),
                                 "--db", dir.file("orchd.db")},
        dir.path().string());
    unsetenv("ORCHD_PLANE_WEBHOOK_SECRET");
    unsetenv("ORCHD_GITHUB_WEBHOOK_SECRET");
    port = test::wait_until_listening(*proc);
  }

  int stop() {
    proc->signal(SIGTERM);
    return proc->wait_exit();
  }

  std::string sql(const std::string& query) {
    auto db = test::open_db(dir.file("orchd.db"));
    return test::sql_rows(*db, query);
  }

  // Waits until `query` answers `expected` in the daemon's database.
  void wait_for(const std::string& query, const std::string& expected) {
    auto db = test::open_db(dir.file("orchd.db"));
    std::string last;
    REQUIRE_MESSAGE(proc->wait_until([&] {
      last = test::sql_rows(*db, query);
      return last == expected;
    }),
                    query << " answers '" << last << "', not '" << expected
                          << "'; the daemon said:\n"
                          << proc->output());
  }

  // Waits until the work item's task exists with its worktree made.
  void wait_for_worktree(const std::string& work_item_id) {
    wait_for("SELECT COUNT(*) FROM tasks WHERE work_item_id = '" +
                 work_item_id + "'",
             "1\n");
    auto path = dir.file("work/acme__widgets/" + work_item_id + "/.git");
    REQUIRE_MESSAGE(
        proc->wait_until([&] { return std::filesystem::exists(path); }),
        path << " was never made; the daemon said:\n"
             << proc->output());
  }
};

std::string make_clone(const test::temp_dir& dir) {
  auto path = dir.file("clone");
  std::filesystem::create_directories(path);
  REQUIRE(
      run_command({"git", "-C", path, "init", "-q", "-b", "main"}).exit_code ==
      0);
  REQUIRE(run_command({"git", "-C", path, "-c", "user.name=t", "-c",
                       "user.email=t@t", "commit", "-q", "--allow-empty", "-m",
                       "start"})
              .exit_code == 0);
  return path;
}

} // namespace

TEST_CASE("50 concurrent deliveries of one new work item make one task") {
  test::temp_dir dir;
  plane_daemon d{dir, make_clone(dir)};
  // Half are retries of one delivery, half distinct updates of the item.
  std::vector<std::unique_ptr<test::connection>> connections;
  for (int i = 0; i < 50; ++i) {
    auto updated = i < 25 ? std::string{"2026-03-31T11:50:02Z"}
                          : "2026-03-31T12:00:" + std::to_string(10 + i) + "Z";
    auto body = work_item("item-1", 42, updated).dump();
    connections.push_back(std::make_unique<test::connection>(d.port));
    REQUIRE(connections.back()->send_raw(
        request_for(body, "delivery-" + std::to_string(i))));
  }
  int ok = 0;
  for (auto& c : connections)
    ok += c->read_response().rfind("HTTP/1.1 200", 0) == 0 ? 1 : 0;
  CHECK(ok == 50);
  d.wait_for_worktree("ET-042");
  // A later item's task proves every earlier event was handled (in order).
  auto last = work_item("item-2", 43, "2026-03-31T13:00:00Z").dump();
  CHECK(deliver(d.port, request_for(last, "last")).rfind("HTTP/1.1 200", 0) ==
        0);
  d.wait_for_worktree("ET-043");
  d.wait_for("SELECT COUNT(*) FROM events WHERE processed = 0", "0\n");
  // A CI result for the first task's branch is mapped to it.
  std::ifstream gh_in{ORCHD_FIXTURES_DIR
                      "/github_check_run_completed.body.json"};
  auto gh = json::parse(gh_in);
  gh["check_run"]["check_suite"]["head_branch"] = "agent/ET-042-work-item-42";
  auto gh_body = gh.dump();
  auto gh_req = "POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
                "Content-Type: application/json\r\n"
                "X-GitHub-Event: check_run\r\nX-GitHub-Delivery: gh-1\r\n"
                "X-Hub-Signature-256: sha256=" +
                hmac_sha256_hex(github_secret, gh_body) +
                "\r\nContent-Length: " + std::to_string(gh_body.size()) +
                "\r\n\r\n" + gh_body;
  CHECK(deliver(d.port, gh_req).rfind("HTTP/1.1 200", 0) == 0);
  d.wait_for("SELECT task_id, ci_result FROM events WHERE source = 'github'",
             "1|failure\n");
  // Handled once the pipeline took it (a result for a task in analysis
  // decides nothing).
  d.wait_for("SELECT COUNT(*) FROM events WHERE processed = 0", "0\n");
  CHECK(d.stop() == 0);
  CHECK(d.sql("SELECT task_id, ci_branch, ci_result FROM events WHERE "
              "source = 'github'") == "1|agent/ET-042-work-item-42|failure\n");
  CHECK(d.sql("SELECT COUNT(*) FROM events") == "28\n");
  CHECK(d.sql("SELECT COUNT(*) FROM events WHERE processed = 0") == "0\n");
  CHECK(d.sql("SELECT plane_id, work_item_id, branch FROM tasks ORDER BY id") ==
        "item-1|ET-042|agent/ET-042-work-item-42\n"
        "item-2|ET-043|agent/ET-043-work-item-43\n");
  CHECK(d.sql("SELECT agent, task_id FROM jobs ORDER BY id") ==
        "analyst|1\nanalyst|2\n");
  auto worktrees = run_command({"git", "-C", d.clone, "worktree", "list"});
  CHECK(std::count(worktrees.output.begin(), worktrees.output.end(), '\n') ==
        3);
  auto branches =
      run_command({"git", "-C", d.clone, "branch", "--list", "agent/ET-042*"});
  CHECK(branches.output == "+ agent/ET-042-work-item-42\n");
}

TEST_CASE("kill -9 during a stream of deliveries loses nothing acknowledged") {
  test::temp_dir dir;
  plane_daemon d{dir, make_clone(dir)};
  std::set<int64_t> acked;
  auto stream = std::make_unique<test::connection>(d.port);
  for (int i = 1; i <= 400; ++i) {
    if (i == 150)
      d.proc->signal(SIGKILL);
    auto body =
        work_item("item-" + std::to_string(i), i, "2026-03-31T11:50:02Z")
            .dump();
    if (!stream->send_raw(request_for(body, "d-" + std::to_string(i))))
      break;
    auto response = stream->read_response();
    if (response.empty())
      break;
    if (response.rfind("HTTP/1.1 200", 0) == 0) {
      auto body_at = response.find("\r\n\r\n");
      acked.insert(
          json::parse(response.substr(body_at + 4))["event_id"].get<int64_t>());
    }
  }
  stream.reset();
  CHECK(d.proc->wait_exit() == 128 + SIGKILL);
  REQUIRE(acked.size() >= 149);
  // Every acknowledged delivery is in the file.
  auto ids = d.sql("SELECT id FROM events");
  std::set<int64_t> stored;
  std::istringstream lines{ids};
  for (std::string line; std::getline(lines, line);)
    stored.insert(std::stoll(line));
  for (auto id : acked)
    CHECK(stored.count(id) == 1);
  // Restart: unhandled events are handled, each work item gets one task.
  d.start();
  auto last = work_item("item-last", 999, "2026-03-31T13:00:00Z").dump();
  CHECK(deliver(d.port, request_for(last, "last")).rfind("HTTP/1.1 200", 0) ==
        0);
  d.wait_for_worktree("ET-999");
  d.wait_for("SELECT COUNT(*) FROM events WHERE processed = 0", "0\n");
  CHECK(d.stop() == 0);
  CHECK(d.sql("SELECT COUNT(*) FROM events WHERE processed = 0") == "0\n");
  CHECK(d.sql("SELECT COUNT(*) FROM tasks") ==
        std::to_string(stored.size() + 1) + "\n");
  CHECK(d.sql("SELECT COUNT(*) FROM (SELECT plane_id FROM tasks GROUP BY "
              "plane_id HAVING COUNT(*) > 1)") == "0\n");
  CHECK(d.sql("SELECT COUNT(*) FROM jobs") ==
        d.sql("SELECT COUNT(*) FROM tasks"));
}
