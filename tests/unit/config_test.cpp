// Configuration: defaults, comments, and errors named by the key's path.
#include "actors/logic/config.hpp"

#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

using namespace orchd;

namespace {

// The error text for a config, or "" when it parses.
std::string problem(const std::string& text) {
  auto cfg = parse_config(text);
  return cfg ? std::string{} : describe(cfg.error());
}

const char* two_projects = R"({
  "projects": [
    {"repo": "acme/widgets", "prefix": "ET", "clone_path": "/src/widgets",
     "plane_project_id": "p1"},
    {"repo": "acme/gadgets", "prefix": 7, "clone_path": "/src/gadgets",
     "plane_project_id": "p2"}
  ]
})";

} // namespace

TEST_CASE("the embedded defaults are valid and use the fake agent") {
  auto cfg = default_config();
  CHECK_FALSE(validate_config(cfg));
  CHECK(cfg.database.path == "var/orchd.db");
  CHECK(cfg.database.synchronous == "full");
  CHECK(cfg.listen.address == "127.0.0.1");
  REQUIRE(cfg.agents.count("analyst") == 1);
  CHECK(cfg.agents["analyst"].program == "scripts/fake-agent");
}

TEST_CASE("an empty object is the defaults; comments are allowed") {
  auto cfg =
      test::unbox(parse_config("// nothing to change\n{ /* really */ }"));
  CHECK(cfg.listen.port == default_config().listen.port);
}

TEST_CASE("the shipped conf/orchd.json is valid and states the defaults") {
  auto cfg = test::unbox(load_config(ORCHD_SOURCE_DIR "/conf/orchd.json"));
  CHECK(to_json(cfg) == to_json(default_config()));
}

TEST_CASE("the systemd unit's stop timeout covers the agents' drain") {
  std::ifstream in{ORCHD_SOURCE_DIR "/conf/orchd.service"};
  REQUIRE(in);
  int64_t timeout_s = -1;
  bool no_new_privileges = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("TimeoutStopSec=", 0) == 0)
      timeout_s = std::stoll(line.substr(15));
    no_new_privileges = no_new_privileges || line == "NoNewPrivileges=yes";
  }
  auto cfg = test::unbox(load_config(ORCHD_SOURCE_DIR "/conf/orchd.json"));
  CHECK(timeout_s >= cfg.runner.drain_s + 30);
  CHECK(no_new_privileges);
}

TEST_CASE("errors name the key by its path") {
  CHECK(problem(two_projects) == "projects[1].prefix: expected a string");
  CHECK(problem(R"({"listen": {"port": "80"}})") ==
        "listen.port: expected an integer");
  CHECK(problem(R"({"listen": {"port": 70000}})") ==
        "listen.port: expected 0 to 65535");
  CHECK(problem(R"({"listen": {"prot": 80}})") == "listen.prot: unknown key");
  CHECK(problem(R"({"databse": {}})") == "databse: unknown key");
  CHECK(problem(R"({"database": {"synchronous": "fast"}})") ==
        "database.synchronous: expected one of off, normal, full, extra");
  CHECK(problem(R"({"projects": [{"repo": "a/b", "prefix": "AB",
                                  "clone_path": "/x"}]})") ==
        "projects[0].plane_project_id: missing required key");
  CHECK(problem(R"({"projects": [{"repo": "a/b", "prefix": "ab",
                                  "clone_path": "/x",
                                  "plane_project_id": "p"}]})") ==
        "projects[0].prefix: expected capital letters and digits, e.g. ET");
  CHECK(problem(R"({"agents": {"critic": {"model": "x"}}})") ==
        "agents.critic.program: missing required key");
  CHECK(problem(R"({"agents": {"analyst": {"args": ["-p", 3]}}})") ==
        "agents.analyst.args[1]: expected a string");
  CHECK(
      problem(R"({"scheduler": {"backoff_base_s": 10, "backoff_cap_s": 5}})") ==
      "scheduler.backoff_cap_s: must not be less than backoff_base_s");
  CHECK(problem(R"({"secrets": {"admin_token_env": "my token"}})") ==
        "secrets.admin_token_env: expected an environment variable name "
        "(A-Z, 0-9, _)");
  CHECK(problem(R"({"webhooks": {"max_json_depth": 100000}})") ==
        "webhooks.max_json_depth: must be at most 1024");
  CHECK(problem(R"({"projects": [{"repo": "a/b", "prefix": "AB",
                                  "clone_path": "/x", "plane_project_id": "p",
                                  "first_agent": "planner"}]})") ==
        "projects[0].first_agent: no agent 'planner' is configured");
  CHECK(problem(R"({"scheduler": {"serial_gate_agents": ["analyst", ""]}})") ==
        "scheduler.serial_gate_agents[1]: must not be empty");
  CHECK(problem("[1, 2]") == "(top level): expected an object");
  CHECK(problem("{\"listen\": ").rfind("not valid JSON", 0) == 0);
  // Found by fuzz_config: a number past a double's range is nlohmann's
  // out_of_range, not a parse_error; it is refused like any bad JSON.
  CHECK(problem("{\"listen\": {\"port\": 1.1e11111}}")
            .rfind("not valid JSON", 0) == 0);
}

TEST_CASE("cost control: prices, budgets, a time zone, an account") {
  auto cfg = test::unbox(parse_config(R"({
    "projects": [{"repo": "a/b", "prefix": "AB", "clone_path": "/x",
                  "plane_project_id": "p", "budget_usd": 40,
                  "daily_budget_usd": 12.5, "time_zone": "-05:30"}],
    "agents": {"developer": {"account": "team-b"}},
    "prices": {"claude-sonnet-4": {"input": 3, "output": 15,
                                   "cache_read": 0.3,
                                   "cache_creation": 3.75}},
    "scheduler": {"account_holds": false}
  })"));
  CHECK(cfg.projects[0].budget_usd == 40);
  CHECK(cfg.projects[0].daily_budget_usd == 12.5);
  CHECK(*utc_offset_of(cfg.projects[0].time_zone) == -(5 * 3600 + 1800));
  CHECK(cfg.agents["developer"].account == "team-b");
  CHECK(cfg.agents["analyst"].account == "default");
  CHECK(cfg.prices["claude-sonnet-4"].cache_creation == 3.75);
  CHECK_FALSE(cfg.scheduler.account_holds);
  CHECK(problem(R"({"prices": {"m": {"input": "3"}}})") ==
        "prices.m.input: expected a number");
  CHECK(problem(R"({"prices": {"m": {"output": -1}}})") ==
        "prices.m.output: must not be negative");
  CHECK(problem(R"({"projects": [{"repo": "a/b", "prefix": "AB",
                                  "clone_path": "/x", "plane_project_id": "p",
                                  "time_zone": "Europe/Berlin"}]})") ==
        "projects[0].time_zone: expected UTC, +HH:MM or -HH:MM");
  CHECK(problem(R"({"agents": {"analyst": {"account": ""}}})") ==
        "agents.analyst.account: must not be empty");
}

TEST_CASE("two projects may not share a repo or a Plane project") {
  CHECK(problem(R"({"projects": [
    {"repo": "a/b", "prefix": "AB", "clone_path": "/x", "plane_project_id": "1"},
    {"repo": "a/b", "prefix": "CD", "clone_path": "/y", "plane_project_id": "2"}
  ]})") == "projects[1].repo: same repo as projects[0]");
  CHECK(problem(R"({"projects": [
    {"repo": "a/b", "prefix": "AB", "clone_path": "/x", "plane_project_id": "1"},
    {"repo": "a/c", "prefix": "CD", "clone_path": "/y", "plane_project_id": "1"}
  ]})") == "projects[1].plane_project_id: same Plane project as projects[0]");
}

TEST_CASE("an agent named in the file starts from its default") {
  auto cfg = test::unbox(parse_config(R"({"agents": {"developer": {
                                        "model": "opus", "effort": "high"}}})"));
  CHECK(cfg.agents["developer"].program == "scripts/fake-agent");
  CHECK(cfg.agents["developer"].model == "opus");
  CHECK(cfg.agents["developer"].effort == "high");
  CHECK(cfg.agents.size() == default_config().agents.size());
}

TEST_CASE("a secret's value is never shown, only whether it is set") {
  auto cfg = test::unbox(
      parse_config(R"({"secrets": {"admin_token_env": "ORCHD_TEST_ADMIN"}})"));
  CHECK(cfg.secrets.admin_token_env == "ORCHD_TEST_ADMIN");
  cfg.secrets.admin_token = "s3cret";
  auto shown = to_json(cfg).dump();
  CHECK(shown.find("s3cret") == std::string::npos);
  CHECK(to_json(cfg)["secrets"]["admin_token"]["value"] == "set");
}

TEST_CASE("admin.listen: [host:]port, loopback when the host is left out") {
  auto at = [](const std::string& text) {
    auto a = parse_listen_address(text);
    return a ? a->address + " " + std::to_string(a->port) : "none";
  };
  CHECK(at("8081") == "127.0.0.1 8081");
  CHECK(at(":8081") == "127.0.0.1 8081");
  CHECK(at("0.0.0.0:9000") == "0.0.0.0 9000");
  CHECK(at("[::1]:9000") == "::1 9000");
  for (auto bad : {"", "::1:9000", "host:", "127.0.0.1:65536", "80x",
                   "127.0.0.1:-1", "127.0.0.1:123456"})
    CHECK_MESSAGE(at(bad) == "none", bad);
  CHECK(problem(R"({"admin": {"listen": "localhost:port"}})") ==
        "admin.listen: expected [host:]port, e.g. 127.0.0.1:8081 or 8081");
  CHECK(test::unbox(parse_config(R"({"admin": {"listen": "8081"}})"))
            .admin.listen == "8081");
  CHECK(test::unbox(parse_config("{}")).admin.listen.empty());
}
