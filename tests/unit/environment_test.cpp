// What children inherit (an allow-list, fds 0-2 only) and how secrets leave
// the daemon's environment once read. Real processes, real git.
#include "actors/os/environment.hpp"

#include "actors/os/worktree.hpp"
#include "tests/support/test.hpp"

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace orchd;

namespace {

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

} // namespace

TEST_CASE("a child's environment is an allow-list") {
  setenv("ORCHD_TEST_SECRET", "hush", 1);
  setenv("CLAUDE_TEST_OPTION", "on", 1);
  setenv("LC_TEST_ALL", "C", 1);
  auto plain = child_environment();
  auto with = child_environment({"CLAUDE_*", "ORCHD_NOT_SET"});
  unsetenv("ORCHD_TEST_SECRET");
  unsetenv("CLAUDE_TEST_OPTION");
  unsetenv("LC_TEST_ALL");
  CHECK(has(plain, std::string{"PATH="} + std::getenv("PATH")));
  CHECK(has(plain, "LC_TEST_ALL=C"));
  CHECK_FALSE(has(plain, "CLAUDE_TEST_OPTION=on"));
  CHECK(has(with, "CLAUDE_TEST_OPTION=on"));
  for (auto& e : with)
    CHECK(e.rfind("ORCHD_TEST_SECRET", 0) != 0);
}

TEST_CASE("a secret is read from its variable, its _FILE or a systemd "
          "credential, then wiped") {
  test::temp_dir dir;
  SUBCASE("the variable; its bytes are overwritten where they lay") {
    setenv("ORCHD_TEST_TOKEN", "from-env", 1);
    auto where = std::getenv("ORCHD_TEST_TOKEN");
    CHECK(test::unbox(take_secret("ORCHD_TEST_TOKEN")) == "from-env");
    CHECK(std::getenv("ORCHD_TEST_TOKEN") == nullptr);
    // setenv's copy is still ours (never freed by glibc): now zeros.
    CHECK(std::string{where}.empty());
  }
  SUBCASE("NAME_FILE, one trailing newline dropped") {
    std::ofstream{dir.file("token")} << "from-file\n";
    setenv("ORCHD_TEST_TOKEN_FILE", dir.file("token").c_str(), 1);
    CHECK(test::unbox(take_secret("ORCHD_TEST_TOKEN")) == "from-file");
    CHECK(std::getenv("ORCHD_TEST_TOKEN_FILE") == nullptr);
  }
  SUBCASE("$CREDENTIALS_DIRECTORY/NAME") {
    std::ofstream{dir.file("ORCHD_TEST_TOKEN")} << "from-systemd";
    setenv("CREDENTIALS_DIRECTORY", dir.file("").c_str(), 1);
    CHECK(test::unbox(take_secret("ORCHD_TEST_TOKEN")) == "from-systemd");
    unsetenv("CREDENTIALS_DIRECTORY");
  }
  SUBCASE("a _FILE that cannot be read is an error naming it") {
    setenv("ORCHD_TEST_TOKEN_FILE", dir.file("missing").c_str(), 1);
    auto secret = take_secret("ORCHD_TEST_TOKEN");
    REQUIRE_FALSE(secret);
    CHECK(describe(secret.error()).find(dir.file("missing")) !=
          std::string::npos);
  }
  SUBCASE("unset everywhere: empty") {
    CHECK(test::unbox(take_secret("ORCHD_TEST_TOKEN")).empty());
  }
}

TEST_CASE("a command sees fds 0-2 only and no variable off the allow-list") {
  setenv("ORCHD_TEST_SECRET", "hush", 1);
  // A socket and a file opened without close-on-exec, as a library might.
  test::temp_dir dir;
  std::ofstream{dir.file("daemon-file")} << "x";
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  int file = ::open(dir.file("daemon-file").c_str(), O_RDONLY);
  REQUIRE(sock > 2);
  REQUIRE(file > 2);
  // ls lists its own fds (and the one it reads /proc/self/fd with).
  auto r = run_command({"sh", "-c", "env; exec ls -l /proc/self/fd"});
  ::close(sock);
  ::close(file);
  unsetenv("ORCHD_TEST_SECRET");
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.find("hush") == std::string::npos);
  CHECK(r.output.find(" 0 -> /dev/null") != std::string::npos);
  CHECK(r.output.find("socket:") == std::string::npos);
  CHECK(r.output.find("daemon-file") == std::string::npos);
}

TEST_CASE("a clone's hooks do not run when orchd makes a worktree") {
  test::temp_dir dir;
  auto clone = dir.file("clone");
  REQUIRE(run_command({"git", "init", "-q", "-b", "main", clone}).exit_code ==
          0);
  REQUIRE(run_command({"git", "-C", clone, "-c", "user.name=t", "-c",
                       "user.email=t@t", "commit", "-q", "--allow-empty", "-m",
                       "start"})
              .exit_code == 0);
  auto marker = dir.file("hook-ran");
  {
    std::ofstream hook{clone + "/.git/hooks/post-checkout"};
    hook << "#!/bin/sh\nenv > " << marker << "\n";
  }
  ::chmod((clone + "/.git/hooks/post-checkout").c_str(), 0755);
  worktree_spec spec;
  spec.clone_path = clone;
  spec.workspace_root = dir.file("work");
  spec.repo = "acme/widgets";
  spec.branch = "feature/x";
  spec.work_item_id = "ET-1";
  spec.task_folder = "tasks";
  auto path = test::unbox(ensure_worktree(spec));
  CHECK(std::filesystem::exists(path + "/.git"));
  CHECK_FALSE(std::filesystem::exists(marker));
}
