#include "actors/os/resources.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

namespace orchd {

std::optional<mode_t> narrow_mode(const std::string& path, mode_t allowed) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode))
    return std::nullopt;
  auto mode = st.st_mode & 07777;
  if ((mode & ~allowed) == 0)
    return std::nullopt;
  if (::chmod(path.c_str(), mode & allowed) != 0)
    return std::nullopt;
  return mode;
}

uint64_t raise_fd_limit() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    auto wanted = lim;
    wanted.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &wanted) == 0)
      lim = wanted;
  }
  return static_cast<uint64_t>(lim.rlim_cur);
}

uint64_t fds_besides_connections(uint64_t max_agents) {
  // 64: stdio, the database, WAL, shared memory and lock, the listeners,
  // the actor runtime's and the HTTP threads' polling fds, git's pipes while
  // a worktree is made. Each agent: its log, stdout and stderr pipes and
  // the task file while it is opened.
  return 64 + 4 * max_agents;
}

} // namespace orchd
