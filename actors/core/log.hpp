// Line-oriented logging to stderr: `<UTC time> <level> <text>`.
// One write per line, so lines from several threads never interleave.
#pragma once

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

/// Writes one line (the level check is the caller's).
void write(level x, const std::string& text);

template <class... Ts>
void emit(level x, Ts&&... xs) {
  if (!enabled(x))
    return;
  std::ostringstream out;
  (out << ... << xs);
  write(x, out.str());
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
