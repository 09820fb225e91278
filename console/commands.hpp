// The console's commands (one table: name, arguments, what it shows, the
// function that runs it), shared by one-shot use and the prompt.
#pragma once

#include "console/client.hpp"
#include "console/console.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace orchd::console {

/// What a command runs against and writes to.
struct context {
  client& api;
  /// Print the daemon's JSON instead of tables.
  bool json = false;
  /// Colour the tables (stdout is a terminal and NO_COLOR is unset).
  bool coloured = false;
  std::ostream& out;
  std::ostream& err;
};

struct command {
  const char* name;
  const char* args;
  const char* what;
  int (*run)(context& cx, std::vector<std::string>& args);
};

const std::vector<command>& commands();

/// The commands as an aligned list.
std::string help_text();

/// Runs one command line (its words); an exit code.
int run_command(context& cx, std::vector<std::string> words);

/// Prints `usage: <line>` and answers the usage exit code.
int usage_error(context& cx, const std::string& usage_line);

} // namespace orchd::console
