// orchd's configuration: one JSON file with comments (conf/orchd.json),
// every key defaulted, validated before any actor starts. Secrets never
// come from the file: it names the environment variables holding them.
#pragma once

#include "actors/logic/webhook_payload.hpp"

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orchd {

struct listen_config {
  std::string address = "127.0.0.1";
  /// 0 lets the OS choose.
  int64_t port = 8080;
};

/// The admin routes' own listener.
struct admin_config {
  /// `[host:]port` (host: loopback when left out; IPv6 in brackets). Set,
  /// the admin routes are served there alone and the main listener answers
  /// only /webhooks/* and /healthz, so a proxy can expose it whole. Empty:
  /// one listener serves every route.
  std::string listen;
};

/// `[host:]port` read into an address and port; nothing when malformed.
std::optional<listen_config> parse_listen_address(const std::string& text);

/// A project's time zone as seconds east of UTC: "UTC", "+HH:MM" or
/// "-HH:MM" (seconds may follow, "+HH:MM:SS"); nothing when malformed.
std::optional<int64_t> utc_offset_of(std::string_view zone);

/// The shortest admin token orchd accepts (`openssl rand -hex 32` gives 64).
constexpr size_t min_admin_token_bytes = 32;

/// The HTTP server's limits: every one guards against a client that is
/// slow, large or hostile.
struct http_config {
  int64_t threads = 1;
  int64_t header_limit_bytes = 16 * 1024;
  /// GitHub sends up to 25 MB; Beast's own default is 1 MB.
  int64_t webhook_body_limit_bytes = 25 * 1024 * 1024;
  int64_t body_limit_bytes = 64 * 1024;
  int64_t header_timeout_s = 10;
  int64_t body_timeout_s = 60;
  /// With the agents, SQLite and logs, it must fit the fd limit (raised
  /// to the hard one at start; orchd refuses to start otherwise).
  int64_t max_connections = 512;
  /// Request body bytes held at once across all connections, before the
  /// signature is checked; a request that would pass it gets 503.
  int64_t max_buffered_bytes = 256 * 1024 * 1024;
  /// A request whose actor gives no reply within this gets 503.
  int64_t reply_timeout_s = 10;
};

/// How webhooks are accepted.
struct webhooks_config {
  /// Accept deliveries without a signature when no secret is configured
  /// (off: a route without a secret refuses everything).
  bool allow_unsigned_plane = false;
  bool allow_unsigned_github = false;
  /// orchd's own Plane user: its events are recorded but not acted on, so
  /// orchd's own comments and state changes do not loop back.
  std::string plane_bot_user_id;
  /// Deeper JSON is refused (400) before it is parsed.
  int64_t max_json_depth = default_json_depth;
  /// Every this many seconds, events recorded at least `sweep_grace_s` ago
  /// and still not handled are routed again.
  int64_t sweep_interval_s = 60;
  int64_t sweep_grace_s = 120;
};

struct database_config {
  std::string path = "var/orchd.db";
  /// off, normal, full or extra; full survives power loss.
  std::string synchronous = "full";
  int64_t busy_timeout_ms = 5000;
};

/// Names of the environment variables that hold each secret, and the values
/// read from them at start-up (empty when unset).
struct secrets_config {
  std::string plane_webhook_secret_env = "ORCHD_PLANE_WEBHOOK_SECRET";
  std::string github_webhook_secret_env = "ORCHD_GITHUB_WEBHOOK_SECRET";
  std::string admin_token_env = "ORCHD_ADMIN_TOKEN";
  std::string telegram_token_env = "ORCHD_TELEGRAM_TOKEN";
  std::string plane_api_key_env = "ORCHD_PLANE_API_KEY";

  std::string plane_webhook_secret;
  std::string github_webhook_secret;
  std::string admin_token;
  std::string telegram_token;
  std::string plane_api_key;
};

struct project_config {
  /// owner/name, as CI events name it.
  std::string repo;
  /// Work-item prefix, e.g. ET (ET-042).
  std::string prefix;
  /// The local clone worktrees are made from.
  std::string clone_path;
  std::string plane_project_id;
  std::string telegram_chat_id;
  std::string pipeline = "default";
  /// The agent of a new task's first job (its first stage).
  std::string first_agent = "analyst";
  /// A work item enters the pipeline when its state's name or group is one
  /// of these (empty: any state) and it has one of `trigger_labels`
  /// (empty: no label needed).
  std::vector<std::string> trigger_states = {"started"};
  std::vector<std::string> trigger_labels;
  /// "plane": ids from Plane's sequence id (ET-042); "sequential": the
  /// repo's last id plus one.
  std::string numbering = "plane";
  /// Branches are <branch_prefix><ID>-<slug of the title>.
  std::string branch_prefix = "agent/";
  /// Where a task's documents live inside its worktree.
  std::string task_folder = "docs/work-items";
  /// Agents of this project running at once (0: only the global cap).
  int64_t max_concurrency = 0;
  /// A new task's budget in USD, unless its work item has a `Budget: $N`
  /// line (0: none). Fixed when the task is made; POST
  /// /tasks/{id}/budget changes it.
  double budget_usd = 0;
  /// What the project's runs may cost in one day (0: no limit).
  double daily_budget_usd = 0;
  /// Where its day ends: "UTC", "+HH:MM" or "-HH:MM" east of UTC.
  std::string time_zone = "UTC";
};

/// A model's prices, USD per million tokens of each kind: a run's cost when
/// the agent does not report one.
struct model_price {
  double input = 0;
  double output = 0;
  double cache_read = 0;
  double cache_creation = 0;
};

struct agent_config {
  std::string program;
  std::vector<std::string> args;
  std::string model;
  /// "", low, medium, high, xhigh or max.
  std::string effort;
  int64_t timeout_s = 3600;
  int64_t max_attempts = 2;
  /// The account its runs are billed to: a usage limit one run hits holds
  /// every queued job of the account until the limit resets.
  std::string account = "default";
};

struct scheduler_config {
  int64_t max_concurrency = 4;
  int64_t backoff_base_s = 10;
  int64_t backoff_cap_s = 600;
  bool dependency_gate = true;
  /// Interruptions by orchd's own restarts a job survives (they spend no
  /// code-fault attempt); the last one fails it with the reason.
  int64_t max_interruptions = 3;
  /// Transient failures (rate limits, overload, a worktree not made yet) a
  /// job survives; the last one fails it with the reason.
  int64_t max_transient_attempts = 20;
  /// Jobs of these agents wait at the per-repo serial gate (one task of a
  /// repo in flight at a time, none while the repo is frozen).
  std::vector<std::string> serial_gate_agents = {"analyst"};
  /// A run that hits its account's usage limit (a reset time, or a 429's
  /// retry_after) holds the account's queued jobs until then (off: each
  /// job finds the limit and backs off on its own).
  bool account_holds = true;
};

/// How agent processes are run.
struct runner_config {
  /// Each run's output (stdout and stderr) goes to <output_dir>/<run>.log
  /// and its task file to <output_dir>/<run>.task.
  std::string output_dir = "var/runs";
  /// Output beyond this is dropped (read, never blocking the agent).
  int64_t output_cap_bytes = 64 * 1024 * 1024;
  /// Between SIGTERM and SIGKILL to an agent's process group.
  int64_t kill_grace_s = 10;
  /// On SIGTERM running agents get this long to finish (a second signal
  /// skips it); those still running are then killed and requeued.
  int64_t drain_s = 600;
  /// Variables of the daemon's environment agents keep besides PATH, HOME,
  /// LANG, LC_*, TERM, TZ, USER, LOGNAME, SHELL and TMPDIR (a trailing '*'
  /// matches a prefix). Secrets the daemon reads are never passed.
  std::vector<std::string> pass_env = {"ANTHROPIC_*", "CLAUDE_*",
                                       "FAKE_AGENT_*"};
};

struct reaper_config {
  int64_t interval_s = 30;
  int64_t finalise_grace_s = 120;
  int64_t backstop_s = 6 * 3600;
};

/// What is kept and for how long, so the disk stays bounded. 0 days keeps
/// that kind for ever.
struct retention_config {
  int64_t interval_s = 3600;
  /// Payloads of handled events (the rows and their keys stay).
  int64_t event_payload_days = 30;
  /// Run logs and task files in runner.output_dir.
  int64_t run_log_days = 30;
  /// Worktrees of done or cancelled tasks (their branches stay).
  int64_t worktree_days = 14;
};

struct reconciler_config {
  int64_t interval_s = 60;
  /// Seconds a task may sit in a stage with no active job before it is
  /// looked at again, by stage name; a waiting task by its wait
  /// ("human_review", "ci").
  std::map<std::string, int64_t> stage_grace_s;
  /// Times a stage's job is run again before the task is marked stuck.
  int64_t max_retries = 2;
  /// List Plane's work items for those in a trigger state with no task.
  bool list_work_items = true;
};

/// GET /metrics (Prometheus text).
struct metrics_config {
  /// Off: no series are kept (the route still answers, with the
  /// database's gauges only).
  bool enabled = true;
  /// The route asks for the admin token too (it is open by default, for a
  /// scraper on a loopback or private listener).
  bool require_token = false;
};

/// The Telegram tracker (the bot's token is a secret).
struct telegram_config {
  std::string base_url = "https://api.telegram.org";
  /// Changes of a task within this window become one edit of its card.
  int64_t coalesce_ms = 1000;
  /// Telegram's limits: one message a second per chat, 30 a second in all.
  int64_t chat_interval_ms = 1000;
  int64_t per_second = 30;
  /// Every so often, cards left doubled or stale (a failed delete, a
  /// finish whose bump was lost) are put right.
  int64_t sweep_s = 60;
  /// A chat whose calls fail (no answer, 5xx) waits 1, 2, 4, ... seconds,
  /// at most this long, between tries.
  int64_t retry_cap_s = 60;
  /// The work item's page a card links to; {workspace} is
  /// plane.workspace_slug, {project} the project's Plane id, {id} the work
  /// item's. Empty: not linked.
  std::string work_item_url =
      "https://app.plane.so/{workspace}/projects/{project}/issues/{id}";
};

/// The names of the Plane states the pipeline reads and writes, per the
/// project's workflow (a state of Plane's `cancelled` group cancels).
struct plane_states {
  /// Where a posted BRD waits for its human review.
  std::string review = "BRD Review";
  /// The human's decisions.
  std::string approved = "Approved";
  std::string rework = "Rework";
  /// Where a verified task's work item ends.
  std::string done = "Done";
};

/// Plane's REST API (v1), for the pipeline's state changes and comments.
struct plane_config {
  std::string base_url;
  std::string workspace_slug;
  plane_states states;
  /// Plane Cloud allows 60 a minute per API key.
  int64_t requests_per_minute = 60;
  /// A failed call is tried again after min(2^n * base, cap) seconds.
  int64_t retry_base_s = 5;
  int64_t retry_cap_s = 600;
};

/// The stage machine's bounds (actors/logic/pipeline.hpp).
struct pipeline_config {
  /// Developer rounds after failed CI; the failure after the last: stuck.
  int64_t ci_fix_limit = 3;
  /// Developer rounds after changes-requested reviews; then stuck.
  int64_t review_fix_limit = 3;
  /// A deployer that found the merge lock taken runs again after this.
  int64_t merge_defer_s = 300;
  /// The analyst's BRD: <task_folder>/<work item id>/<brd_file>.
  std::string brd_file = "brd.md";
};

struct config {
  listen_config listen;
  admin_config admin;
  http_config http;
  webhooks_config webhooks;
  database_config database;
  std::string workspace_root = "var/worktrees";
  std::string log_level = "info";
  /// "plain" (`<time> <level> <text>`) or "json" (one object a line).
  std::string log_format = "plain";
  metrics_config metrics;
  secrets_config secrets;
  std::vector<project_config> projects;
  std::map<std::string, agent_config> agents;
  /// Prices by model name, for runs whose agent reports no cost.
  std::map<std::string, model_price> prices;
  scheduler_config scheduler;
  runner_config runner;
  reaper_config reaper;
  reconciler_config reconciler;
  retention_config retention;
  pipeline_config pipeline;
  telegram_config telegram;
  plane_config plane;
};

/// The project of a repo (owner/name), or null when none is configured.
const project_config* project_of_repo(const std::vector<project_config>& ps,
                                      const std::string& repo);

/// The embedded defaults: what orchd runs on with an empty file.
config default_config();

/// A configuration problem, named by the key's path
/// (e.g. `projects[1].prefix: expected a string`).
struct config_error {
  std::string path;
  std::string message;

  std::string to_string() const {
    return path.empty() ? message : path + ": " + message;
  }
};

/// Parses and validates a configuration text over the defaults; the error
/// (ec::invalid_config) names the first problem by its key's path.
caf::expected<config> parse_config(const std::string& text);

/// Reads and parses a file (see parse_config); the error names the file.
caf::expected<config> load_config(const std::string& file);

/// Checks every key's rules and how keys relate (after command-line
/// overrides too); none when the configuration is usable.
caf::error validate_config(const config& cfg);

/// The effective configuration as JSON; secrets show only "set"/"unset".
nlohmann::json to_json(const config& cfg);

} // namespace orchd
