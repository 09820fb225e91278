// What the console's commands are made of: reading the daemon's JSON,
// asking it and showing or refusing the answer, taking options. Shared by
// commands.cpp and the commands kept in files of their own.
#pragma once

#include "console/commands.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace orchd::console {

using json = nlohmann::json;

/// A value as text ("-" for null).
std::string text(const json& j);

/// An object's field as text ("-" when absent).
std::string field(const json& j, const char* key);

/// The daemon could not be asked, or refused: says so and answers the exit
/// code; else ok.
int check(const context& cx, const reply& r);

// Asks, then shows the answer with `show` (or its JSON).
template <class Show>
int ask(context& cx, const reply& r, Show show) {
  if (auto code = check(cx, r); code != ok)
    return code;
  if (cx.json)
    cx.out << r.body.dump(2) << "\n";
  else
    show(r.body);
  return ok;
}

/// A task or job id: digits, not zero.
bool is_id(const std::string& s);

/// Takes `--name VALUE` out of args (true when present).
bool take_option(std::vector<std::string>& args, const std::string& name,
                 std::string& value);

/// Takes `--name` out of args (true when present).
bool take_flag(std::vector<std::string>& args, const std::string& name);

/// POSTs `body` and prints what `said` makes of the answer.
int post_action(context& cx, const std::string& path, const json& body,
                const std::function<std::string(const json&)>& said);

// -- commands in files of their own -------------------------------------------

/// costs [--by K] [--since DAY] [--until DAY] (cost_commands.cpp).
int cmd_costs(context& cx, std::vector<std::string>& args);

/// budget TASK USD (cost_commands.cpp).
int cmd_budget(context& cx, std::vector<std::string>& args);

} // namespace orchd::console
