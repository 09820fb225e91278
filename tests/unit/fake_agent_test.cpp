// scripts/fake-agent playing each pipeline role, read back through the
// agent contract's own parsers: the analyst's BRD, the developer's commit
// pushed to a real bare origin, the verdicts of the others.
#include "actors/logic/agent_result.hpp"
#include "actors/logic/pipeline.hpp"
#include "actors/os/worktree.hpp"

#include "tests/support/test.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace orchd;

namespace {

const std::string fake_agent = ORCHD_SOURCE_DIR "/scripts/fake-agent";

// Runs the fake agent in `cwd` with `env` ("K=V") and stdin from
// /dev/null; its result, parsed.
agent_result run_agent(const std::string& cwd,
                       const std::vector<std::string>& env) {
  std::vector<std::string> argv{"env", "-C", cwd};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(fake_agent);
  auto r = run_command(argv);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // run_command mixes stderr in; the result is the last line.
  return parse_agent_result(r.output, 0);
}

std::string git(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"git", "-C", dir});
  auto r = run_command(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  while (!r.output.empty() && r.output.back() == '\n')
    r.output.pop_back();
  return r.output;
}

} // namespace

TEST_CASE("the fake reviewer, deployer and verifier end with a verdict") {
  test::temp_dir dir;
  auto cwd = dir.path().string();
  auto says = [&](std::vector<std::string> env) {
    auto result = run_agent(cwd, env);
    CHECK(result.subtype == "success");
    return pipeline::parse_verdict(result.text);
  };
  CHECK(says({"ORCHD_AGENT=reviewer"}) == pipeline::verdict::approved);
  CHECK(says({"ORCHD_AGENT=deployer"}) == pipeline::verdict::deployed);
  CHECK(says({"ORCHD_AGENT=verifier"}) == pipeline::verdict::healthy);
  CHECK(says({"ORCHD_AGENT=deployer", "FAKE_AGENT_VERDICT=merge_lock_busy"}) ==
        pipeline::verdict::merge_lock_busy);
  CHECK(says({"ORCHD_AGENT=analyst"}) == pipeline::verdict::none);
}

TEST_CASE("the fake analyst writes the BRD where the pipeline looks") {
  test::temp_dir dir;
  auto result = run_agent(dir.path().string(),
                          {"ORCHD_AGENT=analyst", "ORCHD_WORK_ITEM=ET-042"});
  CHECK(result.subtype == "success");
  CHECK(std::filesystem::exists(dir.file("docs/work-items/ET-042/brd.md")));
}

TEST_CASE("the fake developer commits and pushes its branch to origin, only "
          "in a checkout of its own") {
  test::temp_dir dir;
  auto origin = dir.file("origin.git");
  auto clone = dir.file("clone");
  git(dir.path().string(), {"init", "-q", "--bare", origin});
  git(dir.path().string(), {"clone", "-q", origin, clone});
  git(clone, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
              "--allow-empty", "-m", "start"});
  auto before = git(clone, {"rev-parse", "HEAD"});
  auto result = run_agent(clone, {"ORCHD_AGENT=developer", "ORCHD_JOB_ID=9",
                                  "ORCHD_BRANCH=agent/ET-042"});
  CHECK(result.subtype == "success");
  auto head = git(clone, {"rev-parse", "HEAD"});
  CHECK(head != before);
  CHECK(head.size() == 40);
  // The pushed head is the sha whose CI result the pipeline waits for.
  CHECK(git(origin, {"rev-parse", "refs/heads/agent/ET-042"}) == head);
  // In a folder inside a repository it does not commit into that one.
  std::filesystem::create_directories(clone + "/sub");
  run_agent(clone + "/sub", {"ORCHD_AGENT=developer", "ORCHD_JOB_ID=10"});
  CHECK(git(clone, {"rev-parse", "HEAD"}) == head);
}
