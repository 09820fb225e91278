// `orchd console`: options, the daemon's address and token, one-shot
// commands, and the interactive prompt (libedit: line editing, history,
// completion of command and actor names).
#include "console/console.hpp"

#include "actors/core/error.hpp"
#include "actors/logic/config.hpp"
#include "console/commands.hpp"

#include <editline/readline.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

namespace orchd::console {

namespace {

const char* usage_text =
    "usage: orchd console [--url URL] [--token TOKEN] [--config FILE] "
    "[--json] [--no-color] [COMMAND ARGS...]\n"
    "  URL:   --url, else ORCHD_URL, else the config's admin or listen "
    "address\n"
    "  TOKEN: --token, else ORCHD_ADMIN_TOKEN (or the file "
    "ORCHD_ADMIN_TOKEN_FILE names)\n"
    "  no COMMAND: an interactive prompt (history, Tab completion; "
    "Ctrl-D leaves)\n"
    "exit codes: 0 ok, 1 the daemon refused, 2 usage, 3 daemon "
    "unreachable\n\n";

struct options {
  std::string url;
  std::string token;
  std::string config_file;
  bool json = false;
  bool no_colour = false;
  bool help = false;
  std::vector<std::string> words;
};

// Takes the console's own options out of the words, wherever they are.
bool parse(int argc, char** argv, options& o, std::string& problem) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        problem = a + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (a == "--url") {
      if (!value(o.url))
        return false;
    } else if (a == "--token") {
      if (!value(o.token))
        return false;
    } else if (a == "--config") {
      if (!value(o.config_file))
        return false;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--no-color") {
      o.no_colour = true;
    } else if (a == "-h" || a == "--help") {
      o.help = true;
    } else {
      o.words.push_back(std::move(a));
    }
  }
  return true;
}

std::string env(const char* name) {
  auto v = std::getenv(name);
  return v ? v : "";
}

// The admin routes' address: the admin listener when set, else the main
// one (a wildcard address is asked on loopback).
bool default_url(const options& o, std::string& url, std::string& problem) {
  auto file = o.config_file.empty() ? env("ORCHD_CONFIG") : o.config_file;
  config cfg = default_config();
  if (!file.empty()) {
    auto loaded = load_config(file);
    if (!loaded) {
      problem = "cannot read " + file + ": " + describe(loaded.error());
      return false;
    }
    cfg = std::move(*loaded);
  }
  listen_config at = cfg.listen;
  if (!cfg.admin.listen.empty())
    if (auto admin = parse_listen_address(cfg.admin.listen))
      at = *admin;
  auto host = at.address;
  if (host == "0.0.0.0" || host.empty())
    host = "127.0.0.1";
  else if (host == "::")
    host = "::1";
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  url = "http://" + host + ":" + std::to_string(at.port);
  return true;
}

std::string token_of(const options& o) {
  if (!o.token.empty())
    return o.token;
  if (auto t = env("ORCHD_ADMIN_TOKEN"); !t.empty())
    return t;
  if (auto f = env("ORCHD_ADMIN_TOKEN_FILE"); !f.empty()) {
    std::ifstream in{f};
    std::string t;
    std::getline(in, t);
    return t;
  }
  return {};
}

// Words of a prompt line: blanks split, quotes group.
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (auto c : line) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word)
        out.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word)
    out.push_back(std::move(word));
  return out;
}

// -- the prompt ---------------------------------------------------------------

std::vector<std::string> candidates;

char* next_candidate(const char* text, int state) {
  static size_t i;
  if (state == 0)
    i = 0;
  auto n = std::strlen(text);
  while (i < candidates.size()) {
    auto& c = candidates[i++];
    if (c.compare(0, n, text) == 0)
      return strdup(c.c_str());
  }
  return nullptr;
}

client* prompt_client = nullptr;

// The first word completes to a command; `actors`' argument to an actor's
// name (asked of the daemon).
char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  candidates.clear();
  std::string before{rl_line_buffer, static_cast<size_t>(start)};
  auto words = split(before);
  if (words.empty()) {
    for (auto& c : commands())
      candidates.push_back(c.name);
  } else if (words.size() == 1 && words[0] == "actors" && prompt_client) {
    auto r = prompt_client->get("/actors");
    if (r.ok())
      for (auto& a : r.body["actors"])
        candidates.push_back(a.value("name", ""));
  } else {
    return nullptr;
  }
  return rl_completion_matches(text, next_candidate);
}

std::string history_file() {
  auto home = env("HOME");
  return home.empty() ? std::string{} : home + "/.orchd_console_history";
}

int interactive(context& cx) {
  prompt_client = &cx.api;
  rl_readline_name = "orchd";
  rl_attempted_completion_function = complete;
  auto history = history_file();
  stifle_history(1000);
  if (!history.empty())
    read_history(history.c_str());
  cx.out << "orchd console at " << cx.api.base()
         << " (help lists commands; Ctrl-D leaves)\n";
  for (;;) {
    char* raw = readline("orchd> ");
    if (!raw) {
      cx.out << "\n";
      break;
    }
    std::string line = raw;
    std::free(raw);
    auto words = split(line);
    if (words.empty())
      continue;
    add_history(line.c_str());
    if (words[0] == "quit" || words[0] == "exit")
      break;
    run_command(cx, words);
    cx.out << std::flush;
  }
  if (!history.empty())
    write_history(history.c_str());
  prompt_client = nullptr;
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  std::string problem;
  if (!parse(argc, argv, o, problem)) {
    std::cerr << "orchd console: " << problem << "\n" << usage_text;
    return usage;
  }
  if (o.help) {
    std::cout << usage_text << help_text();
    return ok;
  }
  auto url = o.url.empty() ? env("ORCHD_URL") : o.url;
  if (url.empty() && !default_url(o, url, problem)) {
    std::cerr << "orchd console: " << problem << "\n";
    return usage;
  }
  client api{url, token_of(o)};
  bool coloured = !o.no_colour && !o.json && ::isatty(STDOUT_FILENO) &&
                  env("NO_COLOR").empty();
  context cx{api, o.json, coloured, std::cout, std::cerr};
  if (o.words.empty())
    return interactive(cx);
  return run_command(cx, o.words);
}

} // namespace orchd::console
