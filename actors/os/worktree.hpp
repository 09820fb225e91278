// A task's git worktree and folder, made from the project's local clone.
#pragma once

#include <caf/expected.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace orchd {

/// The exit code and combined output of a finished command.
struct command_result {
  int exit_code = -1;
  std::string output;
};

/// Runs `argv` (argv[0] looked up in PATH) to completion with stdin closed
/// and returns its exit code and output. It blocks: only the task creator,
/// on its own thread, calls it (the job engine's runner will replace it
/// with an event-driven child process).
command_result run_command(const std::vector<std::string>& argv);

/// Lowercase letters and digits joined by single dashes, at most `max_len`
/// characters: "Add retry to webhook sender" -> "add-retry-to-webhook-sender".
std::string slugify(std::string_view title, size_t max_len = 40);

struct worktree_spec {
  std::string clone_path;
  std::string workspace_root;
  std::string repo;
  std::string branch;
  std::string work_item_id;
  std::string task_folder;
  std::string title;
  std::string text;
};

/// The worktree folder a spec names: <root>/<owner>__<name>/<work item id>.
std::string worktree_path(const worktree_spec& spec);

/// True once the spec's worktree has been made (its .git link exists).
bool worktree_exists(const worktree_spec& spec);

/// Makes the branch's worktree from the clone and the task folder inside
/// it (title and text in README.md), unless they exist: safe to run again
/// after a crash. Answers the worktree path, or git's complaint.
caf::expected<std::string> ensure_worktree(const worktree_spec& spec);

/// Removes the spec's worktree (`git worktree remove --force`, uncommitted
/// changes included; the branch and its commits stay in the clone). Nothing
/// to do when it does not exist.
caf::error remove_worktree(const worktree_spec& spec);

/// Removes the regular files directly in `dir` whose names end in one of
/// `suffixes` and that were last modified more than `days` days before
/// `now` (seconds since the epoch); answers how many.
int64_t remove_files_older_than(const std::string& dir,
                                const std::vector<std::string>& suffixes,
                                int64_t days, int64_t now);

} // namespace orchd
