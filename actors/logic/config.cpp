#include "actors/logic/config.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/config_rules.hpp"
#include "actors/logic/config_walk.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace orchd {

std::optional<int64_t> utc_offset_of(std::string_view zone) {
  if (zone == "UTC" || zone == "Z" || zone == "+00:00")
    return int64_t{0};
  // +HH:MM, or +HH:MM:SS (seconds, for tests that put midnight near).
  if ((zone.size() != 6 && zone.size() != 9) ||
      (zone[0] != '+' && zone[0] != '-'))
    return std::nullopt;
  int64_t parts[3] = {0, 0, 0};
  for (size_t i = 0; i * 3 + 1 < zone.size(); ++i) {
    auto at = i * 3 + 1;
    if (!std::isdigit(static_cast<unsigned char>(zone[at])) ||
        !std::isdigit(static_cast<unsigned char>(zone[at + 1])) ||
        (at + 2 < zone.size() && zone[at + 2] != ':'))
      return std::nullopt;
    parts[i] = (zone[at] - '0') * 10 + (zone[at + 1] - '0');
  }
  if (parts[0] > 23 || parts[1] > 59 || parts[2] > 59)
    return std::nullopt;
  auto s = parts[0] * 3600 + parts[1] * 60 + parts[2];
  return zone[0] == '-' ? -s : s;
}

using json = nlohmann::json;
using namespace config_rules;

std::optional<listen_config> parse_listen_address(const std::string& text) {
  listen_config out;
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    out.address = text.substr(0, colon);
    port = text.substr(colon + 1);
    // [::1]:8081; a bare IPv6 address needs its brackets.
    if (out.address.size() >= 2 && out.address.front() == '[' &&
        out.address.back() == ']')
      out.address = out.address.substr(1, out.address.size() - 2);
    else if (out.address.find(':') != std::string::npos)
      return std::nullopt;
    if (out.address.empty())
      out.address = listen_config{}.address;
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  out.port = std::stoll(port);
  if (out.port > 65535)
    return std::nullopt;
  return out;
}

const project_config* project_of_repo(const std::vector<project_config>& ps,
                                      const std::string& repo) {
  for (auto& p : ps)
    if (p.repo == repo)
      return &p;
  return nullptr;
}

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
      {"deploy", 3600},       {"verification", 3600}, {"human_review", 604800},
  };
  cfg.telegram.base_url = "https://api.telegram.org";
  cfg.plane.base_url = "https://api.plane.so";
  return cfg;
}

// -- the one description of every section -------------------------------------
//
// Each section lists its keys once: the name in the file, the member, and
// the rules its value must keep. Reading, checking and printing all walk
// these lists (`v` is the reader, the checker or the printer), so a key is
// added in one place. `v.required` marks a key a file entry must name;
// `v.secret` a secret read from the environment variable the file names.

template <class V>
void keys_of(V& v, listen_config& x) {
  v("address", x.address, not_empty());
  v("port", x.port, between(0, 65535));
}

template <class V>
void keys_of(V& v, admin_config& x) {
  v("listen", x.listen, listen_address_or_empty());
}

template <class V>
void keys_of(V& v, http_config& x) {
  v("threads", x.threads, at_least(1));
  v("header_limit_bytes", x.header_limit_bytes, at_least(1));
  v("webhook_body_limit_bytes", x.webhook_body_limit_bytes, at_least(1));
  v("body_limit_bytes", x.body_limit_bytes, at_least(1));
  v("header_timeout_s", x.header_timeout_s, at_least(1));
  v("body_timeout_s", x.body_timeout_s, at_least(1));
  v("max_connections", x.max_connections, at_least(1));
  v("max_buffered_bytes", x.max_buffered_bytes, at_least(1));
  v("reply_timeout_s", x.reply_timeout_s, at_least(1));
}

template <class V>
void keys_of(V& v, webhooks_config& x) {
  v("allow_unsigned_plane", x.allow_unsigned_plane);
  v("allow_unsigned_github", x.allow_unsigned_github);
  v("plane_bot_user_id", x.plane_bot_user_id);
  v("max_json_depth", x.max_json_depth, at_least(1),
    at_most(static_cast<int64_t>(max_json_depth_limit)));
  v("sweep_interval_s", x.sweep_interval_s, at_least(1));
  v("sweep_grace_s", x.sweep_grace_s, at_least(1));
}

template <class V>
void keys_of(V& v, database_config& x) {
  v("path", x.path, not_empty());
  v("synchronous", x.synchronous,
    one_of({"off", "normal", "full", "extra"},
           "one of off, normal, full, extra"));
  v("busy_timeout_ms", x.busy_timeout_ms, at_least(0));
}

template <class V>
void keys_of(V& v, secrets_config& x) {
  v.secret("plane_webhook_secret", x.plane_webhook_secret_env,
           x.plane_webhook_secret, env_name());
  v.secret("github_webhook_secret", x.github_webhook_secret_env,
           x.github_webhook_secret, env_name());
  v.secret("admin_token", x.admin_token_env, x.admin_token, env_name());
  v.secret("telegram_token", x.telegram_token_env, x.telegram_token,
           env_name());
  v.secret("plane_api_key", x.plane_api_key_env, x.plane_api_key, env_name());
}

template <class V>
void keys_of(V& v, project_config& x) {
  v.required("repo", x.repo, not_empty());
  v.required("prefix", x.prefix, work_item_prefix());
  v.required("clone_path", x.clone_path, not_empty());
  v.required("plane_project_id", x.plane_project_id, not_empty());
  v("telegram_chat_id", x.telegram_chat_id);
  v("pipeline", x.pipeline);
  v("first_agent", x.first_agent, not_empty());
  v("trigger_states", x.trigger_states);
  v("trigger_labels", x.trigger_labels);
  v("numbering", x.numbering,
    one_of({"plane", "sequential"}, "plane or sequential"));
  v("branch_prefix", x.branch_prefix);
  v("task_folder", x.task_folder, relative_path());
  v("max_concurrency", x.max_concurrency, at_least(0));
  v("budget_usd", x.budget_usd, not_negative());
  v("daily_budget_usd", x.daily_budget_usd, not_negative());
  v("time_zone", x.time_zone, time_zone());
}

template <class V>
void keys_of(V& v, model_price& x) {
  v("input", x.input, not_negative());
  v("output", x.output, not_negative());
  v("cache_read", x.cache_read, not_negative());
  v("cache_creation", x.cache_creation, not_negative());
}

template <class V>
void keys_of(V& v, agent_config& x) {
  v("program", x.program, not_empty("missing required key"));
  v("args", x.args);
  v("model", x.model);
  v("effort", x.effort,
    one_of({"", "low", "medium", "high", "xhigh", "max"},
           "one of low, medium, high, xhigh, max"));
  v("timeout_s", x.timeout_s, at_least(1));
  v("max_attempts", x.max_attempts, at_least(1));
  v("account", x.account, not_empty());
}

template <class V>
void keys_of(V& v, scheduler_config& x) {
  v("max_concurrency", x.max_concurrency, at_least(1));
  v("backoff_base_s", x.backoff_base_s, at_least(1));
  v("backoff_cap_s", x.backoff_cap_s);
  v("dependency_gate", x.dependency_gate);
  v("max_interruptions", x.max_interruptions, at_least(1));
  v("max_transient_attempts", x.max_transient_attempts, at_least(1));
  v("serial_gate_agents", x.serial_gate_agents, each_not_empty());
  v("account_holds", x.account_holds);
}

template <class V>
void keys_of(V& v, runner_config& x) {
  v("output_dir", x.output_dir, not_empty());
  v("output_cap_bytes", x.output_cap_bytes, at_least(0));
  v("kill_grace_s", x.kill_grace_s, at_least(0));
  v("drain_s", x.drain_s, at_least(0));
  v("pass_env", x.pass_env, each_not_empty());
}

template <class V>
void keys_of(V& v, reaper_config& x) {
  v("interval_s", x.interval_s, at_least(1));
  v("finalise_grace_s", x.finalise_grace_s, at_least(0));
  v("backstop_s", x.backstop_s, at_least(1));
}

template <class V>
void keys_of(V& v, retention_config& x) {
  v("interval_s", x.interval_s, at_least(1));
  v("event_payload_days", x.event_payload_days, at_least(0));
  v("run_log_days", x.run_log_days, at_least(0));
  v("worktree_days", x.worktree_days, at_least(0));
}

template <class V>
void keys_of(V& v, metrics_config& x) {
  v("enabled", x.enabled);
  v("require_token", x.require_token);
}

template <class V>
void keys_of(V& v, reconciler_config& x) {
  v("interval_s", x.interval_s, at_least(1));
  v("stage_grace_s", x.stage_grace_s, each_at_least(0));
  v("max_retries", x.max_retries, at_least(0));
  v("list_work_items", x.list_work_items);
}

template <class V>
void keys_of(V& v, telegram_config& x) {
  v("base_url", x.base_url, http_url());
  v("coalesce_ms", x.coalesce_ms, at_least(0));
  v("chat_interval_ms", x.chat_interval_ms, at_least(1));
  v("per_second", x.per_second, at_least(1));
  v("sweep_s", x.sweep_s, at_least(1));
  v("retry_cap_s", x.retry_cap_s, at_least(1));
  v("work_item_url", x.work_item_url);
}

template <class V>
void keys_of(V& v, plane_states& x) {
  v("review", x.review, not_empty());
  v("approved", x.approved, not_empty());
  v("rework", x.rework, not_empty());
  v("done", x.done, not_empty());
}

template <class V>
void keys_of(V& v, plane_config& x) {
  v("base_url", x.base_url, http_url());
  v("workspace_slug", x.workspace_slug);
  v("states", x.states);
  v("requests_per_minute", x.requests_per_minute, at_least(1));
  v("retry_base_s", x.retry_base_s, at_least(1));
  v("retry_cap_s", x.retry_cap_s, at_least(1));
}

template <class V>
void keys_of(V& v, pipeline_config& x) {
  v("ci_fix_limit", x.ci_fix_limit, at_least(0));
  v("review_fix_limit", x.review_fix_limit, at_least(0));
  v("merge_defer_s", x.merge_defer_s, at_least(1));
  v("brd_file", x.brd_file, relative_path());
}

template <class V>
void keys_of(V& v, config& x) {
  v("listen", x.listen);
  v("admin", x.admin);
  v("http", x.http);
  v("webhooks", x.webhooks);
  v("database", x.database);
  v("workspace_root", x.workspace_root, not_empty());
  v("log_level", x.log_level, log_level());
  v("log_format", x.log_format, log_format());
  v("metrics", x.metrics);
  v("secrets", x.secrets);
  v("projects", x.projects);
  v("agents", x.agents);
  v("prices", x.prices);
  v("scheduler", x.scheduler);
  v("runner", x.runner);
  v("reaper", x.reaper);
  v("reconciler", x.reconciler);
  v("retention", x.retention);
  v("pipeline", x.pipeline);
  v("telegram", x.telegram);
  v("plane", x.plane);
}

namespace {

using namespace config_walk;

// What no single key's rules can say: how keys relate.
caf::error check_relations(const config& c) {
  auto fail = [](const std::string& path, const std::string& message) {
    return caf::make_error(ec::invalid_config, path + ": " + message);
  };
  std::map<std::string, size_t> repos;
  std::map<std::string, size_t> plane_ids;
  for (size_t i = 0; i < c.projects.size(); ++i) {
    auto& p = c.projects[i];
    auto path = "projects[" + std::to_string(i) + "]";
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
  if (c.scheduler.backoff_cap_s < c.scheduler.backoff_base_s)
    return fail("scheduler.backoff_cap_s",
                "must not be less than backoff_base_s");
  return caf::none;
}

} // namespace

caf::error validate_config(const config& c) {
  checker check;
  keys_of(check, const_cast<config&>(c)); // checking only reads
  if (!check.ok())
    return caf::make_error(ec::invalid_config, check.error().to_string());
  return check_relations(c);
}

caf::expected<config> parse_config(const std::string& text) {
  json j;
  try {
    j = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double.
    return caf::make_error(ec::invalid_config,
                           std::string{"not valid JSON: "} + e.what());
  }
  auto cfg = default_config();
  reader r;
  r.read(j, "", cfg);
  if (!r.ok())
    return caf::make_error(ec::invalid_config, r.error().to_string());
  if (auto err = validate_config(cfg))
    return err;
  return cfg;
}

caf::expected<config> load_config(const std::string& file) {
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return caf::make_error(ec::invalid_config, "cannot read " + file);
  std::ostringstream text;
  text << in.rdbuf();
  auto cfg = parse_config(text.str());
  if (!cfg)
    return caf::make_error(ec::invalid_config,
                           file + ": " + describe(cfg.error()));
  return cfg;
}

json to_json(const config& c) {
  printer p;
  keys_of(p, const_cast<config&>(c)); // printing only reads
  return p.out;
}

} // namespace orchd