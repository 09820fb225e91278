#include "actors/os/environment.hpp"

#include "actors/core/error.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace orchd {

namespace {

bool matches(const std::string& name, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '*')
    return name.compare(0, pattern.size() - 1, pattern, 0,
                        pattern.size() - 1) == 0;
  return name == pattern;
}

// Overwrites the value of `name` where it lies (the initial environment
// block for a variable the daemon was started with), then removes it.
void wipe(const std::string& name) {
  if (auto value = std::getenv(name.c_str()))
    std::memset(value, 0, std::strlen(value));
  ::unsetenv(name.c_str());
}

caf::expected<std::string> read_secret_file(const std::string& path,
                                            const std::string& what) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return caf::make_error(ec::invalid_config, what + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto value = text.str();
  if (!value.empty() && value.back() == '\n')
    value.pop_back();
  if (!value.empty() && value.back() == '\r')
    value.pop_back();
  return value;
}

} // namespace

std::vector<std::string>
child_environment(const std::vector<std::string>& extra) {
  static const std::vector<std::string> base = {
      "PATH", "HOME",    "LANG", "LC_*",  "TERM",
      "TZ",   "LOGNAME", "USER", "SHELL", "TMPDIR"};
  std::vector<std::string> out;
  for (auto e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0)
      continue;
    auto name = entry.substr(0, eq);
    bool keep = false;
    for (auto& p : base)
      keep = keep || matches(name, p);
    for (auto& p : extra)
      keep = keep || matches(name, p);
    if (keep)
      out.push_back(std::move(entry));
  }
  return out;
}

caf::expected<std::string> take_secret(const std::string& name) {
  if (name.empty())
    return std::string{};
  caf::expected<std::string> value{std::string{}};
  auto file_var = name + "_FILE";
  if (auto direct = std::getenv(name.c_str()); direct && *direct) {
    value = std::string{direct};
  } else if (auto file = std::getenv(file_var.c_str()); file && *file) {
    value = read_secret_file(file, file_var);
  } else if (auto dir = std::getenv("CREDENTIALS_DIRECTORY"); dir && *dir) {
    auto path = std::string{dir} + "/" + name;
    std::ifstream probe{path};
    if (probe)
      value = read_secret_file(path, "credential " + name);
  }
  wipe(name);
  wipe(file_var);
  return value;
}

} // namespace orchd
