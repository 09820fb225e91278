// The orchd command line: `serve`, `check-config`, `--version`.
#pragma once

#include "actors/logic/config.hpp"

namespace orchd {

/// Exit codes of the orchd binary.
enum exit_code : int {
  exit_ok = 0,
  /// Something unexpected failed.
  exit_failure = 1,
  /// Bad usage or an invalid configuration.
  exit_usage = 2,
  /// The database cannot be used (corrupt, foreign, newer schema, I/O).
  exit_storage = 3,
};

/// Runs the daemon until SIGTERM or SIGINT: opens and migrates the
/// database, starts the actors, and on the first signal stops taking work,
/// lets storage commit its open batch, closes the database and returns 0.
/// A second signal exits at once.
int serve(const config& cfg);

/// Parses argv and runs the command it names; returns the exit code.
int run_command_line(int argc, char** argv);

} // namespace orchd
