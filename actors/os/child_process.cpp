#include "actors/os/child_process.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace orchd {

namespace asio = boost::asio;

namespace {

// How long pipes may stay open after the leader exited (a member that
// escaped its group with setsid can hold them): then they are closed.
constexpr auto drain_limit = std::chrono::seconds(5);

caf::error spawn_failed(const std::string& what, int err) {
  return caf::make_error(ec::spawn_failed, what + ": " + std::strerror(err));
}

void write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; // a full disk loses log output, never the run
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// Owns one file descriptor.
struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  explicit fd_guard(int x)
      : fd(x) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { reset(); }
  void reset(int x = -1) {
    if (fd >= 0)
      ::close(fd);
    fd = x;
  }
  int release() { return std::exchange(fd, -1); }
};

// One watched child, touched only on the io thread after registration.
struct child : std::enable_shared_from_this<child> {
  child(asio::io_context& io, int pid_fd, int out_fd, int err_fd)
      : pidfd(io, pid_fd)
      , out(io, out_fd)
      , err(io, err_fd)
      , drain_timer(io) {}

  asio::posix::stream_descriptor pidfd;
  asio::posix::stream_descriptor out;
  asio::posix::stream_descriptor err;
  asio::steady_timer drain_timer;
  fd_guard log;
  pid_t pid = 0;
  bool reaped = false;
  bool finished = false;
  int open_pipes = 2;
  int64_t cap = 0;
  int64_t keep = 0;
  int64_t written = 0;
  int64_t dropped = 0;
  int64_t exit_code = 0;
  std::string tail;
  std::array<char, 65536> out_buf;
  std::array<char, 65536> err_buf;
  std::function<void(process_exit)> done;
  std::function<void(pid_t)> forget;

  void consume(const char* data, size_t n, bool is_stdout) {
    auto room = written < cap ? static_cast<size_t>(cap - written) : 0;
    auto take = std::min(n, room);
    if (take > 0 && log.fd >= 0) {
      write_all(log.fd, data, take);
      written += static_cast<int64_t>(take);
    }
    if (take < n) {
      if (dropped == 0 && log.fd >= 0) {
        std::string marker = "\n[orchd: output capped at " +
                             std::to_string(cap) +
                             " bytes; the rest dropped]\n";
        write_all(log.fd, marker.data(), marker.size());
      }
      dropped += static_cast<int64_t>(n - take);
    }
    if (is_stdout) {
      tail.append(data, n);
      if (tail.size() > static_cast<size_t>(2 * keep))
        tail.erase(0, tail.size() - static_cast<size_t>(keep));
    }
  }

  void read(asio::posix::stream_descriptor& pipe, std::array<char, 65536>& buf,
            bool is_stdout) {
    pipe.async_read_some(asio::buffer(buf),
                         [self = shared_from_this(), &pipe, &buf,
                          is_stdout](boost::system::error_code ec, size_t n) {
                           if (n > 0)
                             self->consume(buf.data(), n, is_stdout);
                           if (ec) {
                             boost::system::error_code ignored;
                             pipe.close(ignored);
                             --self->open_pipes;
                             self->maybe_finish();
                             return;
                           }
                           self->read(pipe, buf, is_stdout);
                         });
  }

  void on_exit() {
    // The leader is a zombie now: its group id is still ours. Nothing of
    // the group outlives the agent.
    ::kill(-pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    reaped = true;
    if (r == pid)
      exit_code = WIFEXITED(status)     ? WEXITSTATUS(status)
                  : WIFSIGNALED(status) ? -WTERMSIG(status)
                                        : -1;
    boost::system::error_code ignored;
    pidfd.close(ignored);
    drain_timer.expires_after(drain_limit);
    drain_timer.async_wait(
        [self = shared_from_this()](boost::system::error_code ec) {
          if (ec)
            return;
          boost::system::error_code ignored;
          self->out.close(ignored);
          self->err.close(ignored);
        });
    maybe_finish();
  }

  void maybe_finish() {
    if (finished || !reaped || open_pipes > 0)
      return;
    finished = true;
    drain_timer.cancel();
    log.reset();
    forget(pid);
    done(process_exit{pid, exit_code, std::move(tail), written, dropped});
  }
};

std::string absolute(const std::string& path) {
  if (path.empty() || path.front() == '/')
    return path;
  char buf[4096];
  if (::getcwd(buf, sizeof(buf)) == nullptr)
    return path;
  return std::string{buf} + "/" + path;
}

} // namespace

struct child_watcher::impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{
      io.get_executor()};
  std::map<pid_t, std::shared_ptr<child>> children; // io thread only
  std::thread thread;

  impl()
      : thread([this] { io.run(); }) {}

  ~impl() {
    work.reset();
    io.stop();
    if (thread.joinable())
      thread.join();
  }
};

child_watcher::child_watcher()
    : impl_(std::make_unique<impl>()) {}

child_watcher::~child_watcher() = default;

caf::expected<int64_t>
child_watcher::spawn(const spawn_request& req,
                     std::function<void(process_exit)> done) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return spawn_failed("pipe", errno);
  fd_guard out_r{out_pipe[0]}, out_w{out_pipe[1]};
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return spawn_failed("pipe", errno);
  fd_guard err_r{err_pipe[0]}, err_w{err_pipe[1]};
  fd_guard log{::open(req.log_path.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (log.fd < 0)
    return spawn_failed("cannot open " + req.log_path, errno);

  auto program = req.program.find('/') == std::string::npos
                     ? req.program
                     : absolute(req.program);
  auto stdin_path = absolute(req.stdin_path);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  if (!req.cwd.empty())
    posix_spawn_file_actions_addchdir_np(&fa, req.cwd.c_str());
  // Every descriptor of the daemon (SQLite, sockets, pipes, pidfds) closed.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (auto& a : req.args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : req.env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  auto rc = ::posix_spawnp(&pid, program.c_str(), &fa, &attr, argv.data(),
                           envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0)
    return spawn_failed("cannot start " + program, rc);
  out_w.reset();
  err_w.reset();
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    // Cannot watch it: do not leave it running unobserved.
    auto err = errno;
    ::kill(-pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    return spawn_failed("pidfd_open", err);
  }
  auto c = std::make_shared<child>(impl_->io, pidfd, out_r.release(),
                                   err_r.release());
  c->pid = pid;
  c->log.reset(log.release());
  c->cap = req.output_cap_bytes;
  c->keep = req.stdout_keep_bytes;
  c->done = std::move(done);
  auto* state = impl_.get();
  c->forget = [state](pid_t p) {
    state->children.erase(p);
  };
  asio::post(impl_->io, [state, c] {
    state->children.emplace(c->pid, c);
    c->read(c->out, c->out_buf, true);
    c->read(c->err, c->err_buf, false);
    c->pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                        [c](boost::system::error_code ec) {
                          if (!ec)
                            c->on_exit();
                        });
  });
  return static_cast<int64_t>(pid);
}

void child_watcher::signal_group(int64_t pid, int sig) {
  auto* state = impl_.get();
  asio::post(impl_->io, [state, pid, sig] {
    auto it = state->children.find(static_cast<pid_t>(pid));
    if (it != state->children.end() && !it->second->reaped)
      ::kill(-static_cast<pid_t>(pid), sig);
  });
}

// -- processes of a previous daemon -------------------------------------------

namespace {

// (pid, state, pgrp) of every process, from /proc/<pid>/stat.
struct proc_stat {
  pid_t pid;
  char state;
  pid_t pgrp;
};

bool read_stat(pid_t pid, proc_stat& out) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string line;
  if (!std::getline(in, line))
    return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size())
    return false;
  out.pid = pid;
  out.state = line[close + 2];
  int ppid = 0;
  int pgrp = 0;
  if (std::sscanf(line.c_str() + close + 3, "%d %d", &ppid, &pgrp) != 2)
    return false;
  out.pgrp = pgrp;
  return true;
}

template <class F>
void each_pid(F f) {
  auto dir = ::opendir("/proc");
  if (dir == nullptr)
    return;
  while (auto ent = ::readdir(dir)) {
    auto name = ent->d_name;
    if (*name < '1' || *name > '9')
      continue;
    f(static_cast<pid_t>(std::atoi(name)));
  }
  ::closedir(dir);
}

bool group_alive(pid_t pgid) {
  bool alive = false;
  each_pid([&](pid_t pid) {
    proc_stat st;
    if (!alive && read_stat(pid, st) && st.pgrp == pgid && st.state != 'Z' &&
        st.state != 'X')
      alive = true;
  });
  return alive;
}

} // namespace

std::vector<int64_t> find_agent_groups(const std::string& instance,
                                       int64_t job_id) {
  auto want_instance = "ORCHD_INSTANCE=" + instance;
  auto want_job = "ORCHD_JOB_ID=" + std::to_string(job_id);
  std::set<int64_t> groups;
  each_pid([&](pid_t pid) {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/environ",
                     std::ios::binary};
    if (!in)
      return;
    std::string env{std::istreambuf_iterator<char>{in}, {}};
    bool has_instance = false;
    bool has_job = false;
    size_t at = 0;
    while (at < env.size()) {
      auto end = env.find('\0', at);
      if (end == std::string::npos)
        end = env.size();
      auto var = std::string_view{env}.substr(at, end - at);
      has_instance = has_instance || var == want_instance;
      has_job = has_job || var == want_job;
      at = end + 1;
    }
    proc_stat st;
    if (has_instance && has_job && read_stat(pid, st) && st.state != 'Z')
      groups.insert(st.pgrp);
  });
  return {groups.begin(), groups.end()};
}

namespace {

// The NUL-separated strings of /proc/<pid>/<file> (cmdline, environ).
std::vector<std::string> proc_strings(int64_t pid, const char* file) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/" + file,
                   std::ios::binary};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\0', at);
    if (end == std::string::npos)
      end = text.size();
    out.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

bool looks_like_agent(int64_t pid, int64_t job_id,
                      const std::vector<std::string>& programs) {
  if (!process_alive(pid))
    return false;
  auto want_job = "ORCHD_JOB_ID=" + std::to_string(job_id);
  for (auto& var : proc_strings(pid, "environ"))
    if (var == want_job)
      return true;
  auto argv = proc_strings(pid, "cmdline");
  for (auto& arg : argv) {
    // The program itself, or the script an interpreter runs.
    auto name = base_name(arg);
    for (auto& program : programs)
      if (!program.empty() && name == base_name(program))
        return true;
    if (&arg - argv.data() >= 2)
      break;
  }
  return false;
}

bool stop_agent_process(int64_t pid, int64_t grace_ms) {
  proc_stat st;
  if (!read_stat(static_cast<pid_t>(pid), st))
    return true;
  // Its whole group when it leads one (as agents do); only itself when it
  // shares a group (the Python orchestrator's own, maybe).
  bool leader = st.pgrp == pid;
  auto target = leader ? -static_cast<pid_t>(pid) : static_cast<pid_t>(pid);
  ::kill(target, SIGTERM);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (leader ? group_alive(static_cast<pid_t>(pid)) : process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      if (leader)
        return kill_group(pid);
      ::kill(static_cast<pid_t>(pid), SIGKILL);
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (process_alive(pid) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return !process_alive(pid);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool kill_group(int64_t pgid, int64_t wait_ms) {
  if (pgid <= 1)
    return false;
  ::kill(-static_cast<pid_t>(pgid), SIGKILL);
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (group_alive(static_cast<pid_t>(pgid))) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool process_alive(int64_t pid) {
  proc_stat st;
  return pid > 0 && read_stat(static_cast<pid_t>(pid), st) && st.state != 'Z' &&
         st.state != 'X';
}

} // namespace orchd
