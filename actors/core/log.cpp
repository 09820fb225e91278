#include "actors/core/log.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>

namespace orchd::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::atomic<int> line_format{static_cast<int>(format::plain)};

// The last warning or error of each actor (the inspector's "last error").
std::mutex problems_mx;
std::map<std::string, problem, std::less<>> problems;

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

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '_';
}

// The number after the first whole word `word ` (`task 12`), 0 when none.
int64_t id_after(std::string_view text, std::string_view word) {
  for (size_t at = text.find(word); at != std::string_view::npos;
       at = text.find(word, at + 1)) {
    auto end = at + word.size();
    if ((at > 0 && is_word(text[at - 1])) || end + 1 >= text.size() ||
        text[end] != ' ' || !is_digit(text[end + 1]))
      continue;
    int64_t id = 0;
    for (auto i = end + 1; i < text.size() && is_digit(text[i]) && id < 1e15;
         ++i)
      id = id * 10 + (text[i] - '0');
    return id;
  }
  return 0;
}

// The first Plane work item id (`ORCH-12`: capitals, a dash, digits).
std::string work_item_of(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] < 'A' || text[i] > 'Z' || (i > 0 && is_word(text[i - 1])))
      continue;
    auto j = i;
    while (j < text.size() &&
           ((text[j] >= 'A' && text[j] <= 'Z') || is_digit(text[j])))
      ++j;
    if (j + 1 >= text.size() || text[j] != '-' || !is_digit(text[j + 1]))
      continue;
    auto k = j + 1;
    while (k < text.size() && is_digit(text[k]))
      ++k;
    if (k < text.size() && is_word(text[k]))
      continue;
    return std::string{text.substr(i, k - i)};
  }
  return {};
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

void set_format(format x) {
  line_format = static_cast<int>(x);
}

bool parse_format(std::string_view text, format& out) {
  if (text == "plain")
    out = format::plain;
  else if (text == "json")
    out = format::json;
  else
    return false;
  return true;
}

std::string actor_of(std::string_view text) {
  constexpr std::string_view prefix = "orchd.";
  if (text.substr(0, prefix.size()) != prefix)
    return "daemon";
  auto end = prefix.size();
  while (end < text.size() && is_word(text[end]))
    ++end;
  return end == prefix.size()
             ? std::string{"daemon"}
             : std::string{text.substr(prefix.size(), end - prefix.size())};
}

std::string json_line(level x, const std::string& text, std::string_view event,
                      int64_t now) {
  char stamp[32];
  auto t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json j{
      {"ts", stamp}, {"level", name(x)}, {"actor", actor_of(text)}};
  if (!event.empty())
    j["event"] = std::string{event};
  if (auto task = id_after(text, "task"))
    j["task"] = task;
  if (auto job = id_after(text, "job"))
    j["job"] = job;
  if (auto item = work_item_of(text); !item.empty())
    j["work_item"] = item;
  j["msg"] = text;
  // Never throws on invalid UTF-8 (an agent's text in a line): replaced.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

problem last_problem(const std::string& actor) {
  std::lock_guard<std::mutex> guard{problems_mx};
  auto i = problems.find(actor);
  return i == problems.end() ? problem{} : i->second;
}

void write(level x, const std::string& text, std::string_view event) {
  auto now = std::time(nullptr);
  if (x >= level::warn) {
    std::lock_guard<std::mutex> guard{problems_mx};
    problems[actor_of(text)] = problem{static_cast<int64_t>(now), text};
  }
  if (line_format.load(std::memory_order_relaxed) ==
      static_cast<int>(format::json)) {
    auto line = json_line(x, text, event, now);
    std::fprintf(stderr, "%s\n", line.c_str());
    return;
  }
  char stamp[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
  // One fprintf per line: stdio locks the stream for the whole call.
  std::fprintf(stderr, "%s %s %s\n", stamp, name(x), text.c_str());
}

} // namespace orchd::log
