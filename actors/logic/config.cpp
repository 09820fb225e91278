#include "actors/logic/config.hpp"

#include "actors/core/log.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

namespace orchd {

using json = nlohmann::json;

config default_config() {
  config cfg;
  // The out-of-the-box agent of every stage is the fake agent, so a fresh
  // clone runs end to end without the Claude CLI or an API key.
  for (auto name : {"analyst", "architect", "developer", "reviewer", "deployer",
                    "verifier"}) {
    agent_config agent;
    agent.program = "scripts/fake-agent";
    cfg.agents.emplace(name, agent);
  }
  cfg.reconciler.stage_grace_s = {
      {"created", 600},       {"analysis", 7200},     {"architecture", 7200},
      {"development", 14400}, {"ci", 3600},           {"review", 7200},
      {"deploy", 3600},       {"verification", 3600},
  };
  cfg.telegram.base_url = "https://api.telegram.org";
  cfg.plane.base_url = "https://api.plane.so";
  return cfg;
}

namespace {

// -- reading JSON into the structs, naming each key by its path -------------

class reader {
public:
  using field_fn = std::function<void(const json&, const std::string&)>;
  using fields = std::vector<std::pair<std::string, field_fn>>;

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

  void read(const json& j, const std::string& path, bool& out) {
    if (!j.is_boolean())
      return fail(path, "expected true or false");
    out = j.get<bool>();
  }

  void read(const json& j, const std::string& path,
            std::vector<std::string>& out) {
    if (!j.is_array())
      return fail(path, "expected an array of strings");
    out.clear();
    for (size_t i = 0; i < j.size() && ok(); ++i)
      read(j[i], path + "[" + std::to_string(i) + "]", out.emplace_back());
  }

  void read(const json& j, const std::string& path,
            std::map<std::string, int64_t>& out) {
    if (!j.is_object())
      return fail(path, "expected an object of integers");
    for (auto& [key, value] : j.items()) {
      if (!ok())
        return;
      read(value, path + "." + key, out[key]);
    }
  }

  template <class T>
  field_fn into(T& target) {
    return [this, &target](const json& j, const std::string& path) {
      read(j, path, target);
    };
  }

  /// Reads an object whose every key must be one of `known`.
  void object(const json& j, const std::string& path, const fields& known) {
    if (!j.is_object())
      return fail(path.empty() ? "(top level)" : path, "expected an object");
    for (auto& [key, value] : j.items()) {
      auto sub = path.empty() ? key : path + "." + key;
      auto i = std::find_if(known.begin(), known.end(),
                            [&](auto& f) { return f.first == key; });
      if (i == known.end())
        return fail(sub, "unknown key");
      i->second(value, sub);
      if (!ok())
        return;
    }
  }

private:
  config_error err_;
};

void read_project(reader& r, const json& j, const std::string& path,
                  project_config& p) {
  r.object(j, path,
           {{"repo", r.into(p.repo)},
            {"prefix", r.into(p.prefix)},
            {"clone_path", r.into(p.clone_path)},
            {"plane_project_id", r.into(p.plane_project_id)},
            {"telegram_chat_id", r.into(p.telegram_chat_id)},
            {"pipeline", r.into(p.pipeline)},
            {"first_agent", r.into(p.first_agent)},
            {"trigger_states", r.into(p.trigger_states)},
            {"trigger_labels", r.into(p.trigger_labels)},
            {"numbering", r.into(p.numbering)},
            {"branch_prefix", r.into(p.branch_prefix)},
            {"task_folder", r.into(p.task_folder)},
            {"max_concurrency", r.into(p.max_concurrency)}});
  if (!r.ok())
    return;
  for (auto key : {"repo", "prefix", "clone_path", "plane_project_id"})
    if (!j.contains(key))
      return r.fail(path + "." + key, "missing required key");
}

void read_agent(reader& r, const json& j, const std::string& path,
                agent_config& a) {
  r.object(j, path,
           {{"program", r.into(a.program)},
            {"args", r.into(a.args)},
            {"model", r.into(a.model)},
            {"effort", r.into(a.effort)},
            {"timeout_s", r.into(a.timeout_s)},
            {"max_attempts", r.into(a.max_attempts)}});
}

void read_config(reader& r, const json& j, config& c) {
  auto& s = c.secrets;
  r.object(
      j, "",
      {{"listen",
        [&](const json& v, const std::string& p) {
          r.object(v, p,
                   {{"address", r.into(c.listen.address)},
                    {"port", r.into(c.listen.port)}});
        }},
       {"http",
        [&](const json& v, const std::string& p) {
          auto& h = c.http;
          r.object(
              v, p,
              {{"threads", r.into(h.threads)},
               {"header_limit_bytes", r.into(h.header_limit_bytes)},
               {"webhook_body_limit_bytes", r.into(h.webhook_body_limit_bytes)},
               {"body_limit_bytes", r.into(h.body_limit_bytes)},
               {"header_timeout_s", r.into(h.header_timeout_s)},
               {"body_timeout_s", r.into(h.body_timeout_s)},
               {"max_connections", r.into(h.max_connections)},
               {"reply_timeout_s", r.into(h.reply_timeout_s)}});
        }},
       {"webhooks",
        [&](const json& v, const std::string& p) {
          auto& w = c.webhooks;
          r.object(v, p,
                   {{"allow_unsigned_plane", r.into(w.allow_unsigned_plane)},
                    {"allow_unsigned_github", r.into(w.allow_unsigned_github)},
                    {"plane_bot_user_id", r.into(w.plane_bot_user_id)},
                    {"max_json_depth", r.into(w.max_json_depth)}});
        }},
       {"database",
        [&](const json& v, const std::string& p) {
          r.object(v, p,
                   {{"path", r.into(c.database.path)},
                    {"synchronous", r.into(c.database.synchronous)},
                    {"busy_timeout_ms", r.into(c.database.busy_timeout_ms)}});
        }},
       {"workspace_root", r.into(c.workspace_root)},
       {"log_level", r.into(c.log_level)},
       {"secrets",
        [&](const json& v, const std::string& p) {
          r.object(
              v, p,
              {{"plane_webhook_secret_env", r.into(s.plane_webhook_secret_env)},
               {"github_webhook_secret_env",
                r.into(s.github_webhook_secret_env)},
               {"admin_token_env", r.into(s.admin_token_env)},
               {"telegram_token_env", r.into(s.telegram_token_env)},
               {"plane_api_key_env", r.into(s.plane_api_key_env)}});
        }},
       {"projects",
        [&](const json& v, const std::string& p) {
          if (!v.is_array())
            return r.fail(p, "expected an array of projects");
          c.projects.clear();
          for (size_t i = 0; i < v.size() && r.ok(); ++i)
            read_project(r, v[i], p + "[" + std::to_string(i) + "]",
                         c.projects.emplace_back());
        }},
       {"agents",
        [&](const json& v, const std::string& p) {
          if (!v.is_object())
            return r.fail(p, "expected an object of agents");
          // An agent named here starts from its default, if it has one.
          for (auto& [name, agent] : v.items()) {
            if (!r.ok())
              return;
            read_agent(r, agent, p + "." + name, c.agents[name]);
          }
        }},
       {"scheduler",
        [&](const json& v, const std::string& p) {
          r.object(
              v, p,
              {{"max_concurrency", r.into(c.scheduler.max_concurrency)},
               {"backoff_base_s", r.into(c.scheduler.backoff_base_s)},
               {"backoff_cap_s", r.into(c.scheduler.backoff_cap_s)},
               {"dependency_gate", r.into(c.scheduler.dependency_gate)},
               {"serial_gate_agents", r.into(c.scheduler.serial_gate_agents)}});
        }},
       {"runner",
        [&](const json& v, const std::string& p) {
          r.object(v, p,
                   {{"output_dir", r.into(c.runner.output_dir)},
                    {"output_cap_bytes", r.into(c.runner.output_cap_bytes)},
                    {"kill_grace_s", r.into(c.runner.kill_grace_s)},
                    {"drain_s", r.into(c.runner.drain_s)}});
        }},
       {"reaper",
        [&](const json& v, const std::string& p) {
          r.object(v, p,
                   {{"interval_s", r.into(c.reaper.interval_s)},
                    {"finalise_grace_s", r.into(c.reaper.finalise_grace_s)},
                    {"backstop_s", r.into(c.reaper.backstop_s)}});
        }},
       {"reconciler",
        [&](const json& v, const std::string& p) {
          r.object(v, p,
                   {{"interval_s", r.into(c.reconciler.interval_s)},
                    {"stage_grace_s", r.into(c.reconciler.stage_grace_s)}});
        }},
       {"telegram",
        [&](const json& v, const std::string& p) {
          r.object(v, p, {{"base_url", r.into(c.telegram.base_url)}});
        }},
       {"plane", [&](const json& v, const std::string& p) {
          r.object(v, p, {{"base_url", r.into(c.plane.base_url)}});
        }}});
}

// -- validation of values -----------------------------------------------------

bool is_env_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (auto ch : s)
    if (!(std::isupper(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '_'))
      return false;
  return true;
}

bool is_prefix(const std::string& s) {
  if (s.empty() || !std::isupper(static_cast<unsigned char>(s[0])))
    return false;
  for (auto ch : s)
    if (!(std::isupper(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch))))
      return false;
  return true;
}

bool is_http_url(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

} // namespace

bool validate_config(const config& c, config_error& err) {
  auto fail = [&](std::string path, std::string message) {
    err = config_error{std::move(path), std::move(message)};
    return false;
  };
  auto one_of = [](const std::string& x, std::set<std::string> allowed) {
    return allowed.count(x) > 0;
  };
  if (c.listen.address.empty())
    return fail("listen.address", "must not be empty");
  if (c.listen.port < 0 || c.listen.port > 65535)
    return fail("listen.port", "expected 0 to 65535");
  const std::pair<const char*, int64_t> at_least_one[] = {
      {"http.threads", c.http.threads},
      {"http.header_limit_bytes", c.http.header_limit_bytes},
      {"http.webhook_body_limit_bytes", c.http.webhook_body_limit_bytes},
      {"http.body_limit_bytes", c.http.body_limit_bytes},
      {"http.header_timeout_s", c.http.header_timeout_s},
      {"http.body_timeout_s", c.http.body_timeout_s},
      {"http.max_connections", c.http.max_connections},
      {"http.reply_timeout_s", c.http.reply_timeout_s},
      {"webhooks.max_json_depth", c.webhooks.max_json_depth},
  };
  for (auto& [path, value] : at_least_one)
    if (value < 1)
      return fail(path, "must be at least 1");
  if (c.webhooks.max_json_depth > static_cast<int64_t>(max_json_depth_limit))
    return fail("webhooks.max_json_depth",
                "must be at most " + std::to_string(max_json_depth_limit));
  if (c.database.path.empty())
    return fail("database.path", "must not be empty");
  if (!one_of(c.database.synchronous, {"off", "normal", "full", "extra"}))
    return fail("database.synchronous",
                "expected one of off, normal, full, extra");
  if (c.database.busy_timeout_ms < 0)
    return fail("database.busy_timeout_ms", "must not be negative");
  if (c.workspace_root.empty())
    return fail("workspace_root", "must not be empty");
  log::level lvl;
  if (!log::parse_level(c.log_level, lvl))
    return fail("log_level", "expected one of debug, info, warn, error");
  const std::pair<const char*, const std::string*> envs[] = {
      {"secrets.plane_webhook_secret_env", &c.secrets.plane_webhook_secret_env},
      {"secrets.github_webhook_secret_env",
       &c.secrets.github_webhook_secret_env},
      {"secrets.admin_token_env", &c.secrets.admin_token_env},
      {"secrets.telegram_token_env", &c.secrets.telegram_token_env},
      {"secrets.plane_api_key_env", &c.secrets.plane_api_key_env},
  };
  for (auto& [path, name] : envs)
    if (!is_env_name(*name))
      return fail(path, "expected an environment variable name "
                        "(A-Z, 0-9, _)");
  std::map<std::string, size_t> repos;
  std::map<std::string, size_t> plane_ids;
  for (size_t i = 0; i < c.projects.size(); ++i) {
    auto& p = c.projects[i];
    auto path = "projects[" + std::to_string(i) + "]";
    if (p.repo.empty())
      return fail(path + ".repo", "must not be empty");
    if (!is_prefix(p.prefix))
      return fail(path + ".prefix",
                  "expected capital letters and digits, e.g. ET");
    if (p.clone_path.empty())
      return fail(path + ".clone_path", "must not be empty");
    if (p.plane_project_id.empty())
      return fail(path + ".plane_project_id", "must not be empty");
    if (p.numbering != "plane" && p.numbering != "sequential")
      return fail(path + ".numbering", "expected plane or sequential");
    if (p.task_folder.empty() || p.task_folder[0] == '/' ||
        p.task_folder.find("..") != std::string::npos)
      return fail(path + ".task_folder",
                  "expected a relative path inside the worktree");
    if (p.max_concurrency < 0)
      return fail(path + ".max_concurrency", "must not be negative");
    if (c.agents.count(p.first_agent) == 0)
      return fail(path + ".first_agent",
                  "no agent '" + p.first_agent + "' is configured");
    if (auto [it, fresh] = repos.emplace(p.repo, i); !fresh)
      return fail(path + ".repo",
                  "same repo as projects[" + std::to_string(it->second) + "]");
    if (auto [it, fresh] = plane_ids.emplace(p.plane_project_id, i); !fresh)
      return fail(path + ".plane_project_id",
                  "same Plane project as projects[" +
                      std::to_string(it->second) + "]");
  }
  for (auto& [name, a] : c.agents) {
    auto path = "agents." + name;
    if (a.program.empty())
      return fail(path + ".program", "missing required key");
    if (!one_of(a.effort, {"", "low", "medium", "high", "xhigh", "max"}))
      return fail(path + ".effort",
                  "expected one of low, medium, high, xhigh, max");
    if (a.timeout_s < 1)
      return fail(path + ".timeout_s", "must be at least 1");
    if (a.max_attempts < 1)
      return fail(path + ".max_attempts", "must be at least 1");
  }
  if (c.scheduler.max_concurrency < 1)
    return fail("scheduler.max_concurrency", "must be at least 1");
  if (c.scheduler.backoff_base_s < 1)
    return fail("scheduler.backoff_base_s", "must be at least 1");
  if (c.scheduler.backoff_cap_s < c.scheduler.backoff_base_s)
    return fail("scheduler.backoff_cap_s",
                "must not be less than backoff_base_s");
  for (size_t i = 0; i < c.scheduler.serial_gate_agents.size(); ++i)
    if (c.scheduler.serial_gate_agents[i].empty())
      return fail("scheduler.serial_gate_agents[" + std::to_string(i) + "]",
                  "must not be empty");
  if (c.runner.output_dir.empty())
    return fail("runner.output_dir", "must not be empty");
  if (c.runner.output_cap_bytes < 0)
    return fail("runner.output_cap_bytes", "must not be negative");
  if (c.runner.kill_grace_s < 0)
    return fail("runner.kill_grace_s", "must not be negative");
  if (c.runner.drain_s < 0)
    return fail("runner.drain_s", "must not be negative");
  if (c.reaper.interval_s < 1)
    return fail("reaper.interval_s", "must be at least 1");
  if (c.reaper.finalise_grace_s < 0)
    return fail("reaper.finalise_grace_s", "must not be negative");
  if (c.reaper.backstop_s < 1)
    return fail("reaper.backstop_s", "must be at least 1");
  if (c.reconciler.interval_s < 1)
    return fail("reconciler.interval_s", "must be at least 1");
  for (auto& [stage, grace] : c.reconciler.stage_grace_s)
    if (grace < 0)
      return fail("reconciler.stage_grace_s." + stage, "must not be negative");
  if (!is_http_url(c.telegram.base_url))
    return fail("telegram.base_url", "expected an http:// or https:// URL");
  if (!is_http_url(c.plane.base_url))
    return fail("plane.base_url", "expected an http:// or https:// URL");
  return true;
}

bool parse_config(const std::string& text, config& out, config_error& err) {
  json j;
  try {
    j = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    err = config_error{"", std::string{"not valid JSON: "} + e.what()};
    return false;
  }
  auto cfg = default_config();
  reader r;
  read_config(r, j, cfg);
  if (!r.ok()) {
    err = r.error();
    return false;
  }
  if (!validate_config(cfg, err))
    return false;
  out = std::move(cfg);
  return true;
}

bool load_config(const std::string& file, config& out, config_error& err) {
  std::ifstream in{file, std::ios::binary};
  if (!in) {
    err = config_error{"", "cannot read " + file};
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!parse_config(text.str(), out, err)) {
    err.message =
        file + ": " + (err.path.empty() ? "" : err.path + ": ") + err.message;
    err.path.clear();
    return false;
  }
  return true;
}

void read_secrets(secrets_config& s) {
  auto env = [](const std::string& name) {
    auto value = std::getenv(name.c_str());
    return value != nullptr ? std::string{value} : std::string{};
  };
  s.plane_webhook_secret = env(s.plane_webhook_secret_env);
  s.github_webhook_secret = env(s.github_webhook_secret_env);
  s.admin_token = env(s.admin_token_env);
  s.telegram_token = env(s.telegram_token_env);
  s.plane_api_key = env(s.plane_api_key_env);
}

json to_json(const config& c) {
  auto secret = [](const std::string& env, const std::string& value) {
    return json{{"env", env}, {"value", value.empty() ? "unset" : "set"}};
  };
  json projects = json::array();
  for (auto& p : c.projects)
    projects.push_back({{"repo", p.repo},
                        {"prefix", p.prefix},
                        {"clone_path", p.clone_path},
                        {"plane_project_id", p.plane_project_id},
                        {"telegram_chat_id", p.telegram_chat_id},
                        {"pipeline", p.pipeline},
                        {"first_agent", p.first_agent},
                        {"trigger_states", p.trigger_states},
                        {"trigger_labels", p.trigger_labels},
                        {"numbering", p.numbering},
                        {"branch_prefix", p.branch_prefix},
                        {"task_folder", p.task_folder},
                        {"max_concurrency", p.max_concurrency}});
  json agents = json::object();
  for (auto& [name, a] : c.agents)
    agents[name] = {
        {"program", a.program},     {"args", a.args},
        {"model", a.model},         {"effort", a.effort},
        {"timeout_s", a.timeout_s}, {"max_attempts", a.max_attempts}};
  auto& s = c.secrets;
  return {
      {"listen", {{"address", c.listen.address}, {"port", c.listen.port}}},
      {"http",
       {{"threads", c.http.threads},
        {"header_limit_bytes", c.http.header_limit_bytes},
        {"webhook_body_limit_bytes", c.http.webhook_body_limit_bytes},
        {"body_limit_bytes", c.http.body_limit_bytes},
        {"header_timeout_s", c.http.header_timeout_s},
        {"body_timeout_s", c.http.body_timeout_s},
        {"max_connections", c.http.max_connections},
        {"reply_timeout_s", c.http.reply_timeout_s}}},
      {"webhooks",
       {{"allow_unsigned_plane", c.webhooks.allow_unsigned_plane},
        {"allow_unsigned_github", c.webhooks.allow_unsigned_github},
        {"plane_bot_user_id", c.webhooks.plane_bot_user_id},
        {"max_json_depth", c.webhooks.max_json_depth}}},
      {"database",
       {{"path", c.database.path},
        {"synchronous", c.database.synchronous},
        {"busy_timeout_ms", c.database.busy_timeout_ms}}},
      {"workspace_root", c.workspace_root},
      {"log_level", c.log_level},
      {"secrets",
       {{"plane_webhook_secret",
         secret(s.plane_webhook_secret_env, s.plane_webhook_secret)},
        {"github_webhook_secret",
         secret(s.github_webhook_secret_env, s.github_webhook_secret)},
        {"admin_token", secret(s.admin_token_env, s.admin_token)},
        {"telegram_token", secret(s.telegram_token_env, s.telegram_token)},
        {"plane_api_key", secret(s.plane_api_key_env, s.plane_api_key)}}},
      {"projects", projects},
      {"agents", agents},
      {"scheduler",
       {{"max_concurrency", c.scheduler.max_concurrency},
        {"backoff_base_s", c.scheduler.backoff_base_s},
        {"backoff_cap_s", c.scheduler.backoff_cap_s},
        {"dependency_gate", c.scheduler.dependency_gate},
        {"serial_gate_agents", c.scheduler.serial_gate_agents}}},
      {"runner",
       {{"output_dir", c.runner.output_dir},
        {"output_cap_bytes", c.runner.output_cap_bytes},
        {"kill_grace_s", c.runner.kill_grace_s},
        {"drain_s", c.runner.drain_s}}},
      {"reaper",
       {{"interval_s", c.reaper.interval_s},
        {"finalise_grace_s", c.reaper.finalise_grace_s},
        {"backstop_s", c.reaper.backstop_s}}},
      {"reconciler",
       {{"interval_s", c.reconciler.interval_s},
        {"stage_grace_s", c.reconciler.stage_grace_s}}},
      {"telegram", {{"base_url", c.telegram.base_url}}},
      {"plane", {{"base_url", c.plane.base_url}}},
  };
}

} // namespace orchd
