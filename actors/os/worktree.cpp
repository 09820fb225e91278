#include "actors/os/worktree.hpp"

#include "actors/core/error.hpp"
#include "actors/os/environment.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
  // Only 0-2: no socket, database or log of the daemon's reaches the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // Nor any variable of its environment beyond the allow-list.
  auto env = child_environment();
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  auto rc =
      posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data());
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

namespace {

// git, with no hook and no fsmonitor of the clone's run (a clone's config
// is not orchd's to trust), and its arguments after the options.
command_result git(const std::string& clone,
                   std::initializer_list<std::string> args) {
  std::vector<std::string> argv{
      "git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
      "-C",  clone};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

} // namespace

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
        git(spec.clone_path, {"rev-parse", "--verify", "--quiet",
                              "--end-of-options", "refs/heads/" + spec.branch});
    auto add =
        has_branch.exit_code == 0
            ? git(spec.clone_path,
                  {"worktree", "add", "--end-of-options", path, spec.branch})
            : git(spec.clone_path, {"worktree", "add", "-b", spec.branch,
                                    "--end-of-options", path});
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

caf::error remove_worktree(const worktree_spec& spec) {
  if (!worktree_exists(spec))
    return caf::none;
  auto path = worktree_path(spec);
  auto r =
      git(spec.clone_path, {"worktree", "remove", "--force", "--force", path});
  if (r.exit_code != 0)
    return caf::make_error(ec::git_failed, "git worktree remove failed (" +
                                               std::to_string(r.exit_code) +
                                               "): " + r.output);
  return caf::none;
}

int64_t remove_files_older_than(const std::string& dir,
                                const std::vector<std::string>& suffixes,
                                int64_t days, int64_t now) {
  int64_t removed = 0;
  std::error_code err;
  auto cutoff = now - days * 86400;
  for (auto it = fs::directory_iterator{dir, err};
       !err && it != fs::directory_iterator{}; it.increment(err)) {
    auto name = it->path().filename().string();
    bool wanted = std::any_of(suffixes.begin(), suffixes.end(),
                              [&](const std::string& suffix) {
                                return name.size() > suffix.size() &&
                                       name.compare(name.size() - suffix.size(),
                                                    suffix.size(), suffix) == 0;
                              });
    struct stat st {};
    if (!wanted || ::lstat(it->path().c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
      continue;
    if (::unlink(it->path().c_str()) == 0)
      ++removed;
  }
  return removed;
}

} // namespace orchd
