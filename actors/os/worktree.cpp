#include "actors/os/worktree.hpp"

#include "actors/core/error.hpp"

#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace orchd {

namespace fs = std::filesystem;

command_result run_command(const std::vector<std::string>& argv) {
  command_result result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    result.output = "pipe failed";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  auto rc =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result.output = "cannot run " + argv[0];
    return result;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      result.output.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string slugify(std::string_view title, size_t max_len) {
  std::string out;
  for (auto c : title) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 128) {
      if (out.size() >= max_len)
        break;
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      if (out.size() + 1 >= max_len)
        break;
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out;
}

std::string worktree_path(const worktree_spec& spec) {
  std::string repo;
  for (auto c : spec.repo)
    repo += c == '/' ? std::string{"__"} : std::string(1, c);
  return (fs::absolute(spec.workspace_root) / repo / spec.work_item_id)
      .lexically_normal()
      .string();
}

bool worktree_exists(const worktree_spec& spec) {
  std::error_code err;
  return fs::exists(fs::path{worktree_path(spec)} / ".git", err);
}

caf::expected<std::string> ensure_worktree(const worktree_spec& spec) {
  auto path = worktree_path(spec);
  auto git_failed = [&](const command_result& r, const char* what) {
    return caf::make_error(ec::git_failed,
                           std::string{"git "} + what + " failed (" +
                               std::to_string(r.exit_code) + "): " + r.output);
  };
  std::error_code err;
  if (!worktree_exists(spec)) {
    fs::create_directories(fs::path{path}.parent_path(), err);
    if (err)
      return caf::make_error(ec::io_failed,
                             "cannot create " + path + ": " + err.message());
    auto has_branch =
        run_command({"git", "-C", spec.clone_path, "rev-parse", "--verify",
                     "--quiet", "refs/heads/" + spec.branch});
    auto add = has_branch.exit_code == 0
                   ? run_command({"git", "-C", spec.clone_path, "worktree",
                                  "add", path, spec.branch})
                   : run_command({"git", "-C", spec.clone_path, "worktree",
                                  "add", "-b", spec.branch, path});
    if (add.exit_code != 0)
      return git_failed(add, "worktree add");
  }
  auto folder = fs::path{path} / spec.task_folder / spec.work_item_id;
  fs::create_directories(folder, err);
  if (err)
    return caf::make_error(ec::io_failed, "cannot create " + folder.string() +
                                              ": " + err.message());
  auto readme = folder / "README.md";
  if (!fs::exists(readme, err)) {
    std::ofstream out{readme};
    out << "# " << spec.work_item_id << ": " << spec.title << "\n\n"
        << spec.text << "\n";
    if (!out)
      return caf::make_error(ec::io_failed, "cannot write " + readme.string());
  }
  return path;
}

} // namespace orchd
