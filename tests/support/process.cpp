#include "tests/support/process.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace orchd::test {

child_process::child_process(const std::string& program,
                             const std::vector<std::string>& args,
                             const std::string& cwd) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (chdir(cwd.c_str()) != 0)
      _exit(126);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  fd_ = fds[0];
}

child_process::~child_process() {
  if (exit_code_ < 0 && pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (fd_ >= 0)
    close(fd_);
}

bool child_process::read_some(std::chrono::milliseconds limit) {
  pollfd p{fd_, POLLIN, 0};
  auto rc = poll(&p, 1, static_cast<int>(limit.count()));
  if (rc <= 0)
    return rc == 0;
  char buf[4096];
  auto n = read(fd_, buf, sizeof(buf));
  if (n <= 0)
    return false;
  output_.append(buf, static_cast<size_t>(n));
  return true;
}

bool child_process::wait_for_output(const std::string& needle,
                                    std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (output_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(left))
      return output_.find(needle) != std::string::npos;
  }
  return true;
}

bool child_process::wait_until(const std::function<bool()>& holds,
                               std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!holds()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    if (!read_some(std::chrono::milliseconds(10)))
      return holds(); // the process closed its output: no more changes
  }
  return true;
}

void child_process::signal(int sig) {
  REQUIRE(kill(pid_, sig) == 0);
}

int child_process::wait_exit() {
  while (read_some(std::chrono::milliseconds(60000))) {
  }
  int status = 0;
  REQUIRE(waitpid(pid_, &status, 0) == pid_);
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return exit_code_;
}

uint16_t wait_until_listening(child_process& daemon) {
  REQUIRE_MESSAGE(daemon.wait_for_output("orchd 0"), daemon.output());
  const std::string marker = "listening on 127.0.0.1:";
  auto at = daemon.output().find(marker);
  REQUIRE(at != std::string::npos);
  return static_cast<uint16_t>(
      std::stoi(daemon.output().substr(at + marker.size())));
}

std::pair<int, std::string> run_to_end(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::string& cwd) {
  child_process p{program, args, cwd};
  auto code = p.wait_exit();
  return {code, p.output()};
}

} // namespace orchd::test
