// Internal to the config reader: the three walks over a section's keys.
// A section is a struct with a `keys_of(v, section)` overload found by
// argument-dependent lookup (actors/logic/config.cpp has them); `v` is one
// of the walkers below: the reader (JSON into the struct, every key named
// by its path), the checker (every rule, first problem wins) and the
// printer (the effective configuration, secrets only set or unset).
#pragma once

#include "actors/logic/config.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace orchd::config_walk {

using json = nlohmann::json;

// A type with a description above (a section of the file).
template <class T, class = void>
struct is_section : std::false_type {};

struct probe {
  template <class T, class... Rules>
  void operator()(const char*, T&, Rules&&...) {}
  template <class T, class... Rules>
  void required(const char*, T&, Rules&&...) {}
  template <class... Rules>
  void secret(const char*, std::string&, std::string&, Rules&&...) {}
};

template <class T>
struct is_section<T, std::void_t<decltype(keys_of(std::declval<probe&>(),
                                                  std::declval<T&>()))>>
    : std::true_type {};

template <class T>
constexpr bool is_section_v = is_section<T>::value;

template <class T>
constexpr bool is_section_list_v = false;

template <class T>
constexpr bool is_section_list_v<std::vector<T>> = is_section_v<T>;

template <class T>
constexpr bool is_section_map_v = false;

template <class T>
constexpr bool is_section_map_v<std::map<std::string, T>> = is_section_v<T>;

inline std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// -- reading: JSON into the structs, naming each key by its path --------------

// How an error names the elements of a list or map.
template <class T>
const char* plural() {
  if constexpr (std::is_same_v<T, std::string>)
    return "strings";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "integers";
  else if constexpr (std::is_same_v<T, project_config>)
    return "projects";
  else if constexpr (std::is_same_v<T, agent_config>)
    return "agents";
  else
    return "entries";
}

class reader {
public:
  bool ok() const { return err_.message.empty(); }

  const config_error& error() const { return err_; }

  void fail(const std::string& path, const std::string& message) {
    if (ok())
      err_ = config_error{path, message};
  }

  void read(const json& j, const std::string& path, std::string& out) {
    if (!j.is_string())
      return fail(path, "expected a string");
    out = j.get<std::string>();
  }

  void read(const json& j, const std::string& path, int64_t& out) {
    if (!j.is_number_integer() ||
        (j.is_number_unsigned() &&
         j.get<uint64_t>() >
             static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
      return fail(path, "expected an integer");
    out = j.get<int64_t>();
  }

  // Dollars and prices: any finite number.
  void read(const json& j, const std::string& path, double& out) {
    if (!j.is_number() || !std::isfinite(j.get<double>()))
      return fail(path, "expected a number");
    out = j.get<double>();
  }

  void read(const json& j, const std::string& path, bool& out) {
    if (!j.is_boolean())
      return fail(path, "expected true or false");
    out = j.get<bool>();
  }

  // A list: the file's list replaces the default (projects, strings).
  template <class T>
  void read(const json& j, const std::string& path, std::vector<T>& out) {
    if (!j.is_array())
      return fail(path, std::string{"expected an array of "} + plural<T>());
    out.clear();
    for (size_t i = 0; i < j.size() && ok(); ++i)
      read(j[i], path + "[" + std::to_string(i) + "]", out.emplace_back());
  }

  // Named entries: one named in the file starts from its default, if it
  // has one (agents, a stage's grace).
  template <class T>
  void read(const json& j, const std::string& path,
            std::map<std::string, T>& out) {
    if (!j.is_object())
      return fail(path, std::string{"expected an object of "} + plural<T>());
    for (auto& [key, value] : j.items()) {
      if (!ok())
        return;
      read(value, path + "." + key, out[key]);
    }
  }

  // A section: an object whose every key must be one it describes.
  template <class T>
  std::enable_if_t<is_section_v<T>> read(const json& j, const std::string& path,
                                         T& out) {
    if (!j.is_object())
      return fail(path.empty() ? "(top level)" : path, "expected an object");
    keys k{*this, {}};
    keys_of(k, out);
    for (auto& item : j.items()) {
      const auto& key = item.key();
      auto sub = join(path, key);
      auto i = std::find_if(k.found.begin(), k.found.end(),
                            [&](auto& f) { return f.name == key; });
      if (i == k.found.end())
        return fail(sub, "unknown key");
      i->read(item.value(), sub);
      if (!ok())
        return;
    }
    for (auto& f : k.found)
      if (f.required && !j.contains(f.name))
        return fail(join(path, f.name), "missing required key");
  }

private:
  // The keys of one section, as its description lists them.
  struct keys {
    struct key {
      std::string name;
      std::function<void(const json&, const std::string&)> read;
      bool required = false;
    };
    reader& r;
    std::vector<key> found;

    template <class T, class... Rules>
    void operator()(const char* name, T& x, Rules&&...) {
      found.push_back({name, [this, &x](const json& j, const std::string& p) {
                         r.read(j, p, x);
                       }});
    }
    template <class T, class... Rules>
    void required(const char* name, T& x, Rules&&... rules) {
      (*this)(name, x, rules...);
      found.back().required = true;
    }
    template <class... Rules>
    void secret(const char* name, std::string& env, std::string&, Rules&&...) {
      (*this)((std::string{name} + "_env").c_str(), env);
    }
  };

  config_error err_;
};

// -- checking: every rule, first problem wins
// ----------------------------------

class checker {
public:
  explicit checker(std::string path = {})
      : path_(std::move(path)) {}

  const config_error& error() const { return err_; }

  bool ok() const { return err_.message.empty(); }

  template <class T, class... Rules>
  void operator()(const char* name, const T& x, Rules&&... rules) {
    if (!ok())
      return;
    auto path = join(path_, name);
    check(path, x);
    (apply(path, rules, x), ...);
  }

  template <class T, class... Rules>
  void required(const char* name, const T& x, Rules&&... rules) {
    (*this)(name, x, rules...);
  }

  template <class... Rules>
  void secret(const char* name, const std::string& env, const std::string&,
              Rules&&... rules) {
    (*this)((std::string{name} + "_env").c_str(), env, rules...);
  }

private:
  template <class Rule, class T>
  void apply(const std::string& path, Rule& rule, const T& x) {
    if (!ok())
      return;
    if (auto p = rule(x))
      err_ = config_error{path + p->first, p->second};
  }

  template <class T>
  void check(const std::string& path, const T& x) {
    if constexpr (is_section_v<T>) {
      checker inner{path};
      keys_of(inner, const_cast<T&>(x)); // checking only reads
      err_ = inner.err_;
    } else if constexpr (is_section_list_v<T>) {
      for (size_t i = 0; i < x.size() && ok(); ++i)
        check(path + "[" + std::to_string(i) + "]", x[i]);
    } else if constexpr (is_section_map_v<T>) {
      for (auto& [key, value] : x)
        if (ok())
          check(path + "." + key, value);
    }
  }

  std::string path_;
  config_error err_;
};

// -- printing: the effective configuration, secrets only set or unset ---------

class printer {
public:
  json out = json::object();

  template <class T, class... Rules>
  void operator()(const char* name, const T& x, Rules&&...) {
    out[name] = print(x);
  }

  template <class T, class... Rules>
  void required(const char* name, const T& x, Rules&&...) {
    out[name] = print(x);
  }

  template <class... Rules>
  void secret(const char* name, const std::string& env,
              const std::string& value, Rules&&...) {
    out[name] = {{"env", env}, {"value", value.empty() ? "unset" : "set"}};
  }

private:
  template <class T>
  static json print(const T& x) {
    if constexpr (is_section_v<T>) {
      printer inner;
      keys_of(inner, const_cast<T&>(x)); // printing only reads
      return inner.out;
    } else if constexpr (is_section_list_v<T>) {
      json list = json::array();
      for (auto& item : x)
        list.push_back(print(item));
      return list;
    } else if constexpr (is_section_map_v<T>) {
      json named = json::object();
      for (auto& [key, item] : x)
        named[key] = print(item);
      return named;
    } else {
      return json(x);
    }
  }
};

} // namespace orchd::config_walk
