#include "actors/core/log.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>

namespace orchd::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};

const char* name(level x) {
  switch (x) {
  case level::debug:
    return "debug";
  case level::info:
    return "info";
  case level::warn:
    return "warn";
  case level::error:
    return "error";
  }
  return "?";
}

} // namespace

void set_level(level x) {
  min_level = static_cast<int>(x);
}

bool parse_level(std::string_view text, level& out) {
  for (auto x : {level::debug, level::info, level::warn, level::error})
    if (text == name(x)) {
      out = x;
      return true;
    }
  return false;
}

bool enabled(level x) {
  return static_cast<int>(x) >= min_level.load(std::memory_order_relaxed);
}

void write(level x, const std::string& text) {
  char stamp[32];
  auto now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  // One fprintf per line: stdio locks the stream for the whole call.
  std::fprintf(stderr, "%s %s %s\n", stamp, name(x), text.c_str());
}

} // namespace orchd::log
