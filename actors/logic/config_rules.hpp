// Internal to the config reader: the rules a configuration value must keep.
// Each rule is a function object taking the value and answering the
// problem, if any. Included by actors/logic/config.cpp only.
#pragma once

#include "actors/core/log.hpp"
#include "actors/logic/config.hpp"

#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orchd::config_rules {

// A broken rule: the path below the key ("" for the key itself, "[1]" for
// an element, ".name" for a map entry) and what is wrong.
using problem = std::optional<std::pair<std::string, std::string>>;

inline problem broken(std::string message) {
  return std::make_pair(std::string{}, std::move(message));
}

inline auto not_empty(const char* message = "must not be empty") {
  return [message](const std::string& x) -> problem {
    return x.empty() ? broken(message) : std::nullopt;
  };
}

inline auto at_least(int64_t lo) {
  return [lo](int64_t x) -> problem {
    if (x >= lo)
      return std::nullopt;
    return broken(lo == 0 ? "must not be negative"
                          : "must be at least " + std::to_string(lo));
  };
}

/// Dollars, prices: zero (none) or more.
inline auto not_negative() {
  return [](double x) -> problem {
    return x >= 0 ? std::nullopt : broken("must not be negative");
  };
}

inline auto at_most(int64_t hi) {
  return [hi](int64_t x) -> problem {
    return x <= hi ? std::nullopt
                   : broken("must be at most " + std::to_string(hi));
  };
}

inline auto between(int64_t lo, int64_t hi) {
  return [lo, hi](int64_t x) -> problem {
    if (x >= lo && x <= hi)
      return std::nullopt;
    return broken("expected " + std::to_string(lo) + " to " +
                  std::to_string(hi));
  };
}

// `shown` names the choices in the message (an empty choice goes unsaid).
inline auto one_of(std::vector<std::string> allowed, std::string shown) {
  return [allowed, shown](const std::string& x) -> problem {
    if (std::find(allowed.begin(), allowed.end(), x) != allowed.end())
      return std::nullopt;
    return broken("expected " + shown);
  };
}

inline auto each_not_empty() {
  return [](const std::vector<std::string>& xs) -> problem {
    for (size_t i = 0; i < xs.size(); ++i)
      if (xs[i].empty())
        return std::make_pair("[" + std::to_string(i) + "]",
                              std::string{"must not be empty"});
    return std::nullopt;
  };
}

inline auto each_at_least(int64_t lo) {
  return [lo](const std::map<std::string, int64_t>& xs) -> problem {
    for (auto& [key, value] : xs)
      if (auto p = at_least(lo)(value))
        return std::make_pair("." + key, p->second);
    return std::nullopt;
  };
}

inline auto env_name() {
  return [](const std::string& s) -> problem {
    auto ok = !s.empty() && !std::isdigit(static_cast<unsigned char>(s[0]));
    for (auto ch : s)
      ok = ok && (std::isupper(static_cast<unsigned char>(ch)) ||
                  std::isdigit(static_cast<unsigned char>(ch)) || ch == '_');
    return ok ? std::nullopt
              : broken("expected an environment variable name (A-Z, 0-9, _)");
  };
}

inline auto work_item_prefix() {
  return [](const std::string& s) -> problem {
    auto ok = !s.empty() && std::isupper(static_cast<unsigned char>(s[0]));
    for (auto ch : s)
      ok = ok && (std::isupper(static_cast<unsigned char>(ch)) ||
                  std::isdigit(static_cast<unsigned char>(ch)));
    return ok ? std::nullopt
              : broken("expected capital letters and digits, e.g. ET");
  };
}

inline auto relative_path() {
  return [](const std::string& s) -> problem {
    if (s.empty() || s[0] == '/' || s.find("..") != std::string::npos)
      return broken("expected a relative path inside the worktree");
    return std::nullopt;
  };
}

inline auto http_url() {
  return [](const std::string& s) -> problem {
    if (s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0)
      return std::nullopt;
    return broken("expected an http:// or https:// URL");
  };
}

inline auto listen_address_or_empty() {
  return [](const std::string& s) -> problem {
    if (s.empty() || parse_listen_address(s))
      return std::nullopt;
    return broken("expected [host:]port, e.g. 127.0.0.1:8081 or 8081");
  };
}

inline auto log_level() {
  return [](const std::string& s) -> problem {
    log::level lvl;
    return log::parse_level(s, lvl)
               ? std::nullopt
               : broken("expected one of debug, info, warn, error");
  };
}

inline auto time_zone() {
  return [](const std::string& s) -> problem {
    return utc_offset_of(s) ? std::nullopt
                            : broken("expected UTC, +HH:MM or -HH:MM");
  };
}

inline auto log_format() {
  return [](const std::string& s) -> problem {
    log::format f;
    return log::parse_format(s, f) ? std::nullopt
                                   : broken("expected plain or json");
  };
}

} // namespace orchd::config_rules
