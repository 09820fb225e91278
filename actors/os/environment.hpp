// What the daemon's environment gives away, and what it keeps: every child
// (agents, git) gets an allow-listed environment, and secrets are taken out
// of the process's environment block once read, so an agent running as the
// same user finds them neither in its own environment nor in
// /proc/<orchd>/environ.
#pragma once

#include <caf/expected.hpp>

#include <string>
#include <vector>

namespace orchd {

/// The variables every child keeps from the daemon's environment: PATH,
/// HOME, LANG, LC_*, TERM, TZ, USER, LOGNAME, SHELL and TMPDIR, plus the
/// names in `extra` (a trailing '*' matches a prefix: "CLAUDE_*").
/// Nothing else, whatever the daemon was started with.
std::vector<std::string>
child_environment(const std::vector<std::string>& extra = {});

/// Reads the secret `name` from, in order: the variable itself;
/// the file that `<name>_FILE` names; `$CREDENTIALS_DIRECTORY/<name>`
/// (systemd's LoadCredential=). A file's one trailing newline is dropped.
/// Empty when none is set. Then `name` and `<name>_FILE` are removed from
/// the environment and their values overwritten where they lie, so
/// /proc/<pid>/environ no longer shows them. ec::invalid_config naming the
/// file if `<name>_FILE` or the credential cannot be read.
caf::expected<std::string> take_secret(const std::string& name);

} // namespace orchd
