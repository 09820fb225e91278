// The child watcher: real processes in their own group, their exit learned
// on the watcher's io thread, output captured with a cap.
#include "actors/os/child_process.hpp"

#include "tests/support/test.hpp"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>

using namespace orchd;

namespace {

struct watcher_fixture {
  test::temp_dir dir;
  child_watcher watcher;

  spawn_request sh(const std::string& script) {
    spawn_request req;
    req.program = "/bin/sh";
    req.args = {"-c", script};
    req.cwd = dir.path().string();
    req.stdin_path = "/dev/null";
    req.env = {"PATH=/usr/bin:/bin"};
    req.log_path = dir.file("out.log");
    return req;
  }

  // Spawns and waits for the report of the exit.
  process_exit run(const spawn_request& req,
                   const std::function<void(int64_t pid)>& meanwhile = {}) {
    std::promise<process_exit> done;
    auto exited = done.get_future();
    auto pid = test::unbox(watcher.spawn(
        req, [&done](process_exit e) { done.set_value(std::move(e)); }));
    if (meanwhile)
      meanwhile(pid);
    REQUIRE(exited.wait_for(std::chrono::seconds(60)) ==
            std::future_status::ready);
    return exited.get();
  }
};

} // namespace

TEST_CASE_FIXTURE(watcher_fixture, "the exit code, stdout's tail and the log "
                                   "come back once the child exits") {
  auto e = run(sh("echo hello; echo oops >&2; exit 3"));
  CHECK(e.exit_code == 3);
  CHECK(e.stdout_tail.find("hello") != std::string::npos);
  CHECK(e.dropped_bytes == 0);
  std::ifstream log{dir.file("out.log")};
  std::string text{std::istreambuf_iterator<char>{log}, {}};
  CHECK(text.find("hello") != std::string::npos);
  CHECK(text.find("oops") != std::string::npos);
}

TEST_CASE_FIXTURE(watcher_fixture, "output past the cap is read and dropped; "
                                   "a signal shows as a negative exit") {
  auto req = sh("head -c 200000 /dev/zero; kill -9 $$");
  req.output_cap_bytes = 1000;
  auto e = run(req);
  CHECK(e.exit_code == -SIGKILL);
  CHECK(e.log_bytes == 1000);
  CHECK(e.dropped_bytes == 199000);
  // The cap's bytes, then one line saying the rest was dropped.
  std::ifstream log{dir.file("out.log")};
  std::string text{std::istreambuf_iterator<char>{log}, {}};
  CHECK(text.find("[orchd: output capped at 1000") == 1000 + 1);
}

TEST_CASE_FIXTURE(watcher_fixture, "a signal to the group reaches the "
                                   "child's own children") {
  auto pid_file = dir.file("child.pid");
  auto e = run(sh("sleep 300 & echo $! > child.pid.new; "
                  "mv child.pid.new child.pid; wait"),
               [&](int64_t pid) {
                 // The child exists once its pid file does (moved in whole).
                 REQUIRE(test::eventually(
                     [&] { return std::filesystem::exists(pid_file); }));
                 watcher.signal_group(pid, SIGTERM);
               });
  CHECK(e.exit_code == -SIGTERM);
  std::ifstream in{dir.file("child.pid")};
  int64_t child = 0;
  in >> child;
  REQUIRE(child > 0);
  // The signal is sent; its delivery to the grandchild may lag the shell's
  // own exit (seen once under ASan in CI).
  CHECK(test::eventually([&] { return !process_alive(child); }));
}

TEST_CASE_FIXTURE(watcher_fixture, "a program that cannot start is an "
                                   "error naming it, not a crash") {
  auto req = sh("true");
  req.program = dir.file("no-such-agent");
  auto pid = watcher.spawn(req, [](process_exit) {});
  REQUIRE_FALSE(pid);
  CHECK(pid.error() == ec::spawn_failed);
  CHECK(describe(pid.error()).find("no-such-agent") != std::string::npos);
}
