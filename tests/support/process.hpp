// Runs the real orchd binary as a child process for end-to-end tests and
// reads what it logs, waiting on its output (never sleeping).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace orchd::test {

class child_process {
public:
  /// Starts `program args...` in `cwd` with stdout and stderr captured.
  child_process(const std::string& program,
                const std::vector<std::string>& args, const std::string& cwd);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Reads output until it contains `needle` (true) or the process closes
  /// its output or `limit` passes (false).
  bool wait_for_output(const std::string& needle,
                       std::chrono::seconds limit = std::chrono::seconds(60));

  /// Asks `holds` until it answers true (true) or `limit` passes (false),
  /// reading the process's output between asks (waiting at most 10 ms for
  /// it), so a daemon that logs a lot never blocks on a full pipe. For the
  /// state a daemon keeps (rows, admin answers), which nothing announces.
  bool wait_until(const std::function<bool()>& holds,
                  std::chrono::seconds limit = std::chrono::seconds(60));

  /// Sends a signal to the process.
  void signal(int sig);

  /// Reads the rest of the output and waits for the exit: the exit code, or
  /// 128 + the signal that ended it.
  int wait_exit();

  /// The process id.
  pid_t pid() const { return pid_; }

  /// Everything the process printed so far.
  const std::string& output() const { return output_; }

private:
  // Reads what is available within `limit`; false at end of output.
  bool read_some(std::chrono::milliseconds limit);

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string output_;
  int exit_code_ = -1;
};

/// Waits until a started `orchd serve` is ready and answers the port it
/// printed (`listening on 127.0.0.1:PORT`); fails the test otherwise.
uint16_t wait_until_listening(child_process& daemon);

/// Runs a command to its end: (exit code, output).
std::pair<int, std::string> run_to_end(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::string& cwd);

} // namespace orchd::test
