// What the console's commands are made of (kit.hpp).
#include "console/kit.hpp"

#include <ostream>

namespace orchd::console {

std::string text(const json& j) {
  if (j.is_null())
    return "-";
  if (j.is_string())
    return j.get<std::string>();
  return j.dump();
}

std::string field(const json& j, const char* key) {
  return j.is_object() && j.contains(key) ? text(j[key]) : "-";
}

// The daemon could not be asked, or refused: say so; else nothing.
int check(const context& cx, const reply& r) {
  if (!r.reached()) {
    cx.err << "orchd console: cannot reach the daemon at " << cx.api.base()
           << ": " << r.error << "\n";
    return unreachable;
  }
  if (!r.ok()) {
    cx.err << "orchd console: the daemon refused (HTTP " << r.status
           << "): " << r.refusal() << "\n";
    return refused;
  }
  return ok;
}

bool is_id(const std::string& s) {
  return !s.empty() && s.size() <= 18 &&
         s.find_first_not_of("0123456789") == std::string::npos &&
         s != std::string(s.size(), '0');
}

bool take_option(std::vector<std::string>& args, const std::string& name,
                 std::string& value) {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i] == name && i + 1 < args.size()) {
      value = args[i + 1];
      args.erase(args.begin() + static_cast<long>(i),
                 args.begin() + static_cast<long>(i) + 2);
      return true;
    }
  return false;
}

bool take_flag(std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i] == name) {
      args.erase(args.begin() + static_cast<long>(i));
      return true;
    }
  return false;
}

int post_action(context& cx, const std::string& path, const json& body,
                const std::function<std::string(const json&)>& said) {
  return ask(cx, cx.api.post(path, body),
             [&](const json& b) { cx.out << said(b) << "\n"; });
}

} // namespace orchd::console
