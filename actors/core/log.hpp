// Line-oriented logging to stderr, one write per line (lines from several
// threads never interleave): plain `<UTC time> <level> <text>`, or one JSON
// object per line (`log_format: "json"`) with the fields read from the
// text's conventions: `orchd.<actor>: ...` names the actor, `task N`,
// `job N` and a work item's `PROJ-N` the ids.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace orchd::log {

enum class level { debug, info, warn, error };

/// Lines below this level are dropped. Default: info.
void set_level(level x);

/// Parses "debug", "info", "warn" or "error".
bool parse_level(std::string_view text, level& out);

bool enabled(level x);

enum class format { plain, json };

/// How lines are written. Default: plain.
void set_format(format x);

/// Parses "plain" or "json".
bool parse_format(std::string_view text, format& out);

/// Writes one line (the level check is the caller's); `event` names what
/// happened for the JSON form ("" none).
void write(level x, const std::string& text, std::string_view event = {});

/// The JSON object of one line (what `format::json` writes, without the
/// newline); `now` is unix seconds.
std::string json_line(level x, const std::string& text, std::string_view event,
                      int64_t now);

/// An actor's last warning or error line: unix seconds (0: none) and text.
struct problem {
  int64_t at = 0;
  std::string text;
};

/// The last warning or error an actor logged (`orchd.<name>: ...`).
problem last_problem(const std::string& actor);

/// The actor a line names (`orchd.<name>`), "daemon" when none.
std::string actor_of(std::string_view text);

template <class... Ts>
void emit(level x, Ts&&... xs) {
  if (!enabled(x))
    return;
  std::ostringstream out;
  (out << ... << xs);
  write(x, out.str());
}

/// One line that records an event (agent_start, agent_end, transition,
/// rejected, ...): the same text, with `event` in the JSON form.
template <class... Ts>
void event(level x, std::string_view name, Ts&&... xs) {
  if (!enabled(x))
    return;
  std::ostringstream out;
  (out << ... << xs);
  write(x, out.str(), name);
}

template <class... Ts>
void debug(Ts&&... xs) {
  emit(level::debug, std::forward<Ts>(xs)...);
}

template <class... Ts>
void info(Ts&&... xs) {
  emit(level::info, std::forward<Ts>(xs)...);
}

template <class... Ts>
void warn(Ts&&... xs) {
  emit(level::warn, std::forward<Ts>(xs)...);
}

template <class... Ts>
void error(Ts&&... xs) {
  emit(level::error, std::forward<Ts>(xs)...);
}

} // namespace orchd::log
