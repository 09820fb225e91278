// The pipeline's end-to-end world: the real daemon over a real git clone
// with a bare `origin`, the fake agent in every role, a fake Plane and a
// fake Telegram Bot API on loopback that record what orchd sends, and
// signed webhooks sent by the test. Shared by the pipeline's and the
// tracker's end-to-end tests.
#pragma once

#include "actors/logic/signature.hpp"
#include "actors/os/worktree.hpp"
#include "tests/support/fake_plane.hpp"
#include "tests/support/fake_telegram.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace orchd::test {

using json = nlohmann::json;

inline const std::string plane_secret = "plane-pipeline-secret";
inline const std::string github_secret = "github-pipeline-secret";
inline const std::string admin_token = "pipeline-admin-token-0123456789abcdef";
/// The project's Telegram chat.
inline const std::string chat = "-100777";
inline const std::string plane_project = "59e3be42-87ec-4950-99a3-ae639cf2b089";

inline const std::map<std::string, std::string> plane_states = {
    {"In Progress", "state-started"}, {"BRD Review", "state-review"},
    {"Approved", "state-approved"},   {"Rework", "state-rework"},
    {"Done", "state-done"},           {"Cancelled", "state-cancelled"},
};

inline void git(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"git", "-c", "user.name=t", "-c",
                                "user.email=t@t"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = run_command(argv);
  REQUIRE_MESSAGE(out.exit_code == 0, "git failed: " << out.output);
}

// Every stage's agent is the fake agent (the repo's, by absolute path).
inline json agents() {
  json out = json::object();
  for (auto name : {"analyst", "architect", "developer", "reviewer", "deployer",
                    "verifier"})
    out[name] = {
        {"program", std::string{ORCHD_SOURCE_DIR} + "/scripts/fake-agent"}};
  return out;
}

struct pipeline_world {
  temp_dir dir;
  fake_plane plane{plane_states};
  fake_telegram telegram;
  std::string clone = dir.file("clone");
  std::string origin = dir.file("origin.git");
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;
  int deliveries = 0;
  int updates = 0;
  /// How long a [<agent>_fake:slow] agent sleeps.
  std::string slow_s = "60";
  /// Variables for the next start only (e.g. ORCHD_CRASH_AT).
  std::map<std::string, std::string> next_start_env;
  /// The bot's token (ORCHD_TELEGRAM_TOKEN) at every start; empty: the
  /// daemon runs without the tracker.
  std::string telegram_token;

  explicit pipeline_world(std::map<std::string, std::string> first_env = {},
                          json extra = json::object())
      : next_start_env(std::move(first_env)) {
    auto token = next_start_env.find("ORCHD_TELEGRAM_TOKEN");
    if (token != next_start_env.end()) {
      telegram_token = token->second;
      next_start_env.erase(token);
    }
    git({"init", "-q", "--bare", origin});
    std::filesystem::create_directories(clone);
    git({"-C", clone, "init", "-q", "-b", "main"});
    git({"-C", clone, "commit", "-q", "--allow-empty", "-m", "start"});
    git({"-C", clone, "remote", "add", "origin", origin});
    git({"-C", clone, "push", "-q", "origin", "main"});
    std::filesystem::create_directories(dir.file("agent-state"));
    json cfg = {
        {"listen", {{"port", 0}}},
        {"workspace_root", dir.file("work")},
        {"projects",
         {{{"repo", "acme/widgets"},
           {"prefix", "ET"},
           {"clone_path", clone},
           {"plane_project_id", plane_project},
           {"telegram_chat_id", chat}}}},
        {"agents", agents()},
        {"pipeline", {{"merge_defer_s", 1}}},
        // Only the reconciler's own test lists Plane's work items.
        {"reconciler", {{"list_work_items", false}}},
        {"telegram",
         {{"base_url", telegram.base_url()},
          {"coalesce_ms", 100},
          {"chat_interval_ms", 100},
          {"retry_cap_s", 2}}},
        {"plane",
         {{"base_url", plane.base_url()},
          {"workspace_slug", "acme"},
          {"requests_per_minute", 6000},
          {"retry_base_s", 1},
          {"retry_cap_s", 1}}},
    };
    cfg.merge_patch(extra);
    std::ofstream{dir.file("orchd.json")} << cfg.dump();
    start();
  }

  ~pipeline_world() {
    if (proc && !exited) {
      proc->signal(SIGKILL);
      proc->wait_exit();
    }
  }

  bool exited = false;

  void start() {
    setenv("ORCHD_PLANE_WEBHOOK_SECRET", plane_secret.c_str(), 1);
    setenv("ORCHD_GITHUB_WEBHOOK_SECRET", github_secret.c_str(), 1);
    setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
    setenv("ORCHD_PLANE_API_KEY", "plane-key", 1);
    setenv("FAKE_AGENT_STATE_DIR", dir.file("agent-state").c_str(), 1);
    setenv("FAKE_AGENT_TRACE", dir.file("trace").c_str(), 1);
    setenv("FAKE_AGENT_SLEEP_S", slow_s.c_str(), 1);
    if (!telegram_token.empty())
      setenv("ORCHD_TELEGRAM_TOKEN", telegram_token.c_str(), 1);
    for (auto& [k, v] : next_start_env)
      setenv(k.c_str(), v.c_str(), 1);
    proc = std::make_unique<child_process>(
        ORCHD_BINARY,
        std::vector<std::string>{"serve", "--config", dir.file("orchd.json"),
                                 "--db", dir.file("orchd.db")},
        dir.path().string());
    for (auto name :
         {"ORCHD_PLANE_WEBHOOK_SECRET", "ORCHD_GITHUB_WEBHOOK_SECRET",
          "ORCHD_ADMIN_TOKEN", "ORCHD_PLANE_API_KEY", "FAKE_AGENT_STATE_DIR",
          "FAKE_AGENT_TRACE", "FAKE_AGENT_SLEEP_S", "ORCHD_TELEGRAM_TOKEN"})
      unsetenv(name);
    for (auto& [k, v] : next_start_env)
      unsetenv(k.c_str());
    next_start_env.clear();
    exited = false;
    port = wait_until_listening(*proc);
  }

  int stop() {
    proc->signal(SIGTERM);
    exited = true;
    return proc->wait_exit();
  }

  void kill9() {
    proc->signal(SIGKILL);
    exited = true;
    proc->wait_exit();
  }

  std::string post(const std::string& target, const std::string& headers,
                   const std::string& body) {
    connection c{port};
    c.send_raw("POST " + target + " HTTP/1.1\r\nHost: t\r\n" +
               "Content-Type: application/json\r\n" + headers +
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
               body);
    return c.read_response();
  }

  // A Plane delivery of the work item in a state (name, group).
  void work_item(const std::string& id, int seq, const std::string& name,
                 const std::string& state, const std::string& group,
                 const std::string& description = "") {
    std::ifstream in{ORCHD_FIXTURES_DIR "/plane_issue_updated.body.json"};
    auto body = json::parse(in);
    body["data"]["id"] = id;
    body["data"]["description_stripped"] = description;
    body["data"]["sequence_id"] = seq;
    body["data"]["name"] = name;
    body["data"]["state"] = {
        {"id", plane_states.count(state) ? plane_states.at(state) : "state-x"},
        {"name", state},
        {"group", group}};
    body["data"]["updated_at"] =
        "2026-04-01T10:00:" + std::to_string(10 + ++updates) + "Z";
    auto raw = body.dump();
    auto delivery = "plane-" + std::to_string(++deliveries);
    auto res = post("/webhooks/plane",
                    "X-Plane-Event: issue\r\nX-Plane-Delivery: " + delivery +
                        "\r\nX-Plane-Signature: " +
                        hmac_sha256_hex(plane_secret, raw) + "\r\n",
                    raw);
    REQUIRE_MESSAGE(status_of(res) == 200, res);
  }

  // A signed check_run for the branch's commit.
  void ci(const std::string& sha, const std::string& branch,
          const std::string& conclusion) {
    std::ifstream in{ORCHD_FIXTURES_DIR
                     "/github_check_run_completed.body.json"};
    auto body = json::parse(in);
    body["check_run"]["head_sha"] = sha;
    body["check_run"]["conclusion"] = conclusion;
    body["check_run"]["check_suite"]["head_branch"] = branch;
    auto raw = body.dump();
    auto delivery = "gh-" + std::to_string(++deliveries);
    auto res =
        post("/webhooks/github",
             "X-GitHub-Event: check_run\r\nX-GitHub-Delivery: " + delivery +
                 "\r\nX-Hub-Signature-256: sha256=" +
                 hmac_sha256_hex(github_secret, raw) + "\r\n",
             raw);
    REQUIRE_MESSAGE(status_of(res) == 200, res);
  }

  // An admin GET's status and JSON body (null when it has none).
  std::pair<int, json> admin_get(const std::string& target) {
    connection c{port};
    c.send_raw("GET " + target +
               " HTTP/1.1\r\nHost: t\r\nAuthorization: "
               "Bearer " +
               admin_token + "\r\n\r\n");
    auto res = c.read_response();
    auto body = res.substr(res.find("\r\n\r\n") + 4);
    return {status_of(res), json::parse(body, nullptr, false)};
  }

  std::string sql(const std::string& query) {
    auto db = open_db(dir.file("orchd.db"));
    return sql_rows(*db, query);
  }

  void wait_for(const std::string& query, const std::string& expected,
                std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto db = open_db(dir.file("orchd.db"));
    std::string last;
    REQUIRE_MESSAGE(proc->wait_until(
                        [&] {
                          last = sql_rows(*db, query);
                          return last == expected;
                        },
                        limit),
                    query << " answers '" << last << "', not '" << expected
                          << "'; the daemon said:\n"
                          << proc->output());
  }

  std::string task_col(const std::string& wi, const std::string& col) {
    auto out =
        sql("SELECT " + col + " FROM tasks WHERE work_item_id = '" + wi + "'");
    if (!out.empty() && out.back() == '\n')
      out.pop_back();
    return out;
  }

  // The branch's head in origin (what the developer pushed).
  std::string origin_head(const std::string& branch) {
    auto out = run_command(
        {"git", "--git-dir", origin, "rev-parse", "refs/heads/" + branch});
    auto sha = out.output.substr(0, 40);
    return sha;
  }

  // Waits for the task to wait for CI and answers the sha it waits for.
  std::string wait_for_ci(const std::string& wi, int64_t ci_failures = 0,
                          int64_t review_rounds = 0) {
    wait_for("SELECT stage, waiting, ci_failures, review_rounds FROM tasks "
             "WHERE work_item_id = '" +
                 wi + "'",
             "ci|ci|" + std::to_string(ci_failures) + "|" +
                 std::to_string(review_rounds) + "\n");
    return task_col(wi, "expected_sha");
  }

  // Every queued Plane call sent.
  void wait_for_plane(size_t accepted) {
    REQUIRE_MESSAGE(proc->wait_until([&] {
      return plane.accepted().size() >= accepted &&
             sql("SELECT COUNT(*) FROM plane_outbox WHERE sent_at IS NULL") ==
                 "0\n";
    }),
                    "Plane got " << plane.accepted().size()
                                 << " calls; the daemon said:\n"
                                 << proc->output());
  }
};

} // namespace orchd::test
