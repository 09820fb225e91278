#include "actors/daemon.hpp"

#include "actors/actors.hpp"
#include "actors/admin_api.hpp"
#include "actors/child_process.hpp"
#include "actors/ci_events.hpp"
#include "actors/error.hpp"
#include "actors/freeze_manager.hpp"
#include "actors/intake.hpp"
#include "actors/log.hpp"
#include "actors/reaper.hpp"
#include "actors/recovery.hpp"
#include "actors/runner.hpp"
#include "actors/scheduler.hpp"
#include "actors/task_creator.hpp"
#include "http/server.hpp"
#include "storage/database.hpp"
#include "storage/storage_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace orchd {

namespace {

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

int wait_for_stop_signal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
    // sigwait only fails for an invalid set; retry keeps us alive anyway.
  }
  return sig;
}

// Events recorded but not handled when a previous daemon died are handled
// now, before new deliveries are taken (each actor handles them in order;
// creating a task and recording a CI outcome are idempotent, so each event
// is acted on once).
void replay_unhandled_events(caf::actor_system& sys,
                             const storage_actor& storage,
                             const task_creator_actor& creator,
                             const ci_events_actor& ci) {
  caf::scoped_actor self{sys};
  for (std::string source : {"plane", "github"}) {
    self->request(storage, std::chrono::seconds(60), atom::unfinished_v,
                  atom::event_v, source)
        .receive(
            [&](std::vector<stored_event>& events) {
              if (!events.empty())
                log::info("replaying ", events.size(), " unhandled ", source,
                          " events");
              for (auto& ev : events) {
                if (source == "plane")
                  self->send(creator, atom::handle_v, ev.id,
                             std::move(ev.record.payload));
                else
                  self->send(ci, atom::handle_v, ev.id, ev.record.event_type,
                             std::move(ev.record.payload));
              }
            },
            [](const caf::error& err) {
              log::error("cannot read unhandled events: ", describe(err));
            });
  }
}

// Agents get fds 0-2 by dup2 from pipes; if the daemon itself started
// with one of them closed, a pipe could land there. Fill the gaps first.
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) < 0)
      ::open("/dev/null", O_RDWR);
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec)
    return path;
  auto p = std::filesystem::weakly_canonical(abs, ec);
  return ec ? abs.string() : p.string();
}

std::shared_ptr<const runner_settings>
make_runner_settings(const config& cfg, const std::string& instance) {
  auto s = std::make_shared<runner_settings>();
  s->output_dir = absolute_path(cfg.runner.output_dir);
  s->output_cap_bytes = cfg.runner.output_cap_bytes;
  s->kill_grace = std::chrono::seconds(cfg.runner.kill_grace_s);
  s->workspace_root = absolute_path(cfg.workspace_root);
  s->instance = instance;
  auto& sec = cfg.secrets;
  s->env = current_environment({sec.plane_webhook_secret_env,
                                sec.github_webhook_secret_env,
                                sec.admin_token_env, sec.telegram_token_env,
                                sec.plane_api_key_env, "ORCHD_INSTANCE"});
  return s;
}

scheduler_settings make_scheduler_settings(const config& cfg) {
  scheduler_settings s;
  s.max_concurrency = cfg.scheduler.max_concurrency;
  for (auto& p : cfg.projects)
    if (p.max_concurrency > 0)
      s.repo_caps[p.repo] = p.max_concurrency;
  s.dependency_gate = cfg.scheduler.dependency_gate;
  s.backoff = {cfg.scheduler.backoff_base_s, cfg.scheduler.backoff_cap_s};
  s.agents = cfg.agents;
  return s;
}

reaper_settings make_reaper_settings(const config& cfg,
                                     const std::string& instance) {
  reaper_settings s;
  s.interval = std::chrono::seconds(cfg.reaper.interval_s);
  s.finalise_grace_s = cfg.reaper.finalise_grace_s;
  s.backstop_s = cfg.reaper.backstop_s;
  s.backoff = {cfg.scheduler.backoff_base_s, cfg.scheduler.backoff_cap_s};
  s.instance = instance;
  return s;
}

} // namespace

int serve(const config& cfg) {
  ensure_standard_fds();
  log::level lvl = log::level::info;
  log::parse_level(cfg.log_level, lvl);
  log::set_level(lvl);
  // Every thread started from here on (CAF's workers, the detached storage
  // thread) inherits this mask, so only sigwait below sees the signals.
  auto signals = stop_signals();
  if (auto rc = pthread_sigmask(SIG_BLOCK, &signals, nullptr); rc != 0) {
    log::error("cannot block signals: ", std::strerror(rc));
    return exit_failure;
  }
  storage::open_options opts;
  opts.path = cfg.database.path;
  opts.synchronous = cfg.database.synchronous;
  opts.busy_timeout_ms = cfg.database.busy_timeout_ms;
  auto db = storage::database::open(opts);
  if (!db) {
    log::error("cannot use the database: ", describe(db.error()));
    return exit_storage;
  }
  log::info("storage: ", cfg.database.path,
            " open (synchronous=", cfg.database.synchronous, ")");
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  configure_scheduler(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto storage = storage::spawn_storage(
      sys, std::shared_ptr<storage::database>{std::move(*db)}, true);
  intake_settings intake_cfg;
  intake_cfg.plane_secret = cfg.secrets.plane_webhook_secret;
  intake_cfg.github_secret = cfg.secrets.github_webhook_secret;
  intake_cfg.allow_unsigned_plane = cfg.webhooks.allow_unsigned_plane;
  intake_cfg.allow_unsigned_github = cfg.webhooks.allow_unsigned_github;
  intake_cfg.plane_bot_user_id = cfg.webhooks.plane_bot_user_id;
  intake_cfg.max_json_depth = static_cast<size_t>(cfg.webhooks.max_json_depth);
  intake_cfg.storage_timeout = std::chrono::seconds(cfg.http.reply_timeout_s);
  // The agents this daemon starts carry its database's path, so the next
  // daemon over the same file finds those left behind.
  auto instance = absolute_path(cfg.database.path);
  auto runners = make_runner_settings(cfg, instance);
  for (auto& dir : {runners->output_dir, runners->workspace_root}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      log::error("cannot create ", dir, ": ", ec.message());
      caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
      return exit_failure;
    }
  }
  http::server_options http_opts;
  http_opts.address = cfg.listen.address;
  http_opts.port = static_cast<uint16_t>(cfg.listen.port);
  http_opts.threads = static_cast<int>(cfg.http.threads);
  http_opts.header_limit = static_cast<size_t>(cfg.http.header_limit_bytes);
  http_opts.webhook_body_limit =
      static_cast<size_t>(cfg.http.webhook_body_limit_bytes);
  http_opts.body_limit = static_cast<size_t>(cfg.http.body_limit_bytes);
  http_opts.header_timeout = std::chrono::seconds(cfg.http.header_timeout_s);
  http_opts.body_timeout = std::chrono::seconds(cfg.http.body_timeout_s);
  http_opts.reply_timeout = std::chrono::seconds(cfg.http.reply_timeout_s);
  http_opts.max_connections = static_cast<size_t>(cfg.http.max_connections);
  http_opts.admin_token = cfg.secrets.admin_token;
  // The port first: a daemon that cannot listen stops before its job
  // engine claims anything (no agent started for a daemon that exits).
  http::server web{http_opts};
  auto port = web.listen();
  if (!port) {
    log::error(describe(port.error()));
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
    return exit_failure;
  }
  auto recovered =
      recover_running_jobs(sys, storage, instance, std::chrono::seconds(60));
  if (!recovered) {
    log::error("cannot recover the jobs a previous daemon left running: ",
               describe(recovered.error()));
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
    return exit_failure;
  }
  if (*recovered > 0)
    log::warn("recovered ", *recovered,
              " jobs left running by a previous daemon");
  auto watcher = std::make_shared<child_watcher>();
  auto scheduler =
      spawn_scheduler(sys, storage, make_scheduler_settings(cfg),
                      process_runners(sys, storage, watcher, runners));
  auto freezes = spawn_freeze_manager(
      sys, storage, scheduler, std::chrono::seconds(cfg.http.reply_timeout_s));
  auto reaper =
      spawn_reaper(sys, storage, scheduler, make_reaper_settings(cfg, instance),
                   real_process_probe(instance));
  auto creator = spawn_task_creator(sys, storage, cfg, scheduler);
  auto ci = spawn_ci_events(sys, storage, cfg);
  auto intake = spawn_intake(sys, storage, creator, ci, intake_cfg);
  for (auto [name, secret] : {std::pair{"plane", &intake_cfg.plane_secret},
                              std::pair{"github", &intake_cfg.github_secret}})
    if (secret->empty())
      log::warn("no ", name, " webhook secret is set: /webhooks/", name,
                " refuses every delivery");

  auto admin = spawn_admin_api(sys, admin_backends{storage, scheduler, freezes},
                               std::chrono::seconds(cfg.http.reply_timeout_s));
  auto stop_engine = [&] {
    caf::anon_send_exit(reaper, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(freezes, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
  };
  web.serve(http::backends{intake, admin});
  replay_unhandled_events(sys, storage, creator, ci);
  log::info("listening on ", cfg.listen.address, ":", *port);
  log::info("orchd ", ORCHD_VERSION, " ready: ", cfg.projects.size(),
            " projects, ", cfg.agents.size(), " agents");

  auto sig = wait_for_stop_signal(signals);
  log::info("received ", strsignal(sig),
            ", stopping (again to stop running agents now)");
  std::thread{[signals, scheduler] {
    auto again = wait_for_stop_signal(signals);
    log::warn("received ", strsignal(again),
              " again: stopping running agents (once more to exit now)");
    caf::anon_send(scheduler, atom::kill_v);
    auto third = wait_for_stop_signal(signals);
    log::warn("received ", strsignal(third), " a third time, exiting now");
    _exit(128 + third);
  }}.detach();

  // Agent runs are long and cost money: let running ones finish (webhooks
  // are still taken meanwhile), then stop and requeue the rest.
  {
    caf::scoped_actor self{sys};
    self->request(scheduler, caf::infinite, atom::drain_v, cfg.runner.drain_s)
        .receive([](int64_t) {},
                 [](const caf::error& err) {
                   log::error("scheduler did not drain: ", describe(err));
                 });
  }
  stop_engine();
  // Stop taking work: no new request reaches intake after this.
  web.stop();
  caf::anon_send_exit(intake, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(creator, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(ci, caf::exit_reason::user_shutdown);
  int result = exit_ok;
  caf::scoped_actor self{sys};
  self->request(storage, std::chrono::seconds(60), atom::shutdown_v)
      .receive([](bool) { log::info("orchd stopped"); },
               [&](const caf::error& err) {
                 log::error("storage did not shut down cleanly: ",
                            sys.render(err));
                 result = exit_failure;
               });
  return result;
}

// -- command line -------------------------------------------------------------

namespace {

const char* usage_text =
    "usage: orchd serve [--config FILE] [--port N] [--db PATH] "
    "[--log-level LEVEL]\n"
    "       orchd check-config FILE\n"
    "       orchd --version\n";

int usage_error(const std::string& what) {
  std::cerr << "orchd: " << what << "\n" << usage_text;
  return exit_usage;
}

int config_failure(const config_error& err) {
  std::cerr << "orchd: invalid configuration: " << err.to_string() << "\n";
  return exit_usage;
}

bool parse_port(const std::string& text, int64_t& out) {
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(text);
  return out <= 65535;
}

int check_config(const std::string& file) {
  config cfg;
  config_error err;
  if (!load_config(file, cfg, err))
    return config_failure(err);
  read_secrets(cfg.secrets);
  std::cout << to_json(cfg).dump(2) << "\n";
  return exit_ok;
}

int serve_command(int argc, char** argv) {
  std::string file;
  std::string port;
  std::string db;
  std::string level;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    bool ok = true;
    if (arg == "--config")
      ok = value(file);
    else if (arg == "--port")
      ok = value(port);
    else if (arg == "--db")
      ok = value(db);
    else if (arg == "--log-level")
      ok = value(level);
    else
      return usage_error("unknown option " + arg);
    if (!ok)
      return usage_error(arg + " needs a value");
  }
  config cfg = default_config();
  config_error err;
  if (!file.empty() && !load_config(file, cfg, err))
    return config_failure(err);
  if (!port.empty() && !parse_port(port, cfg.listen.port))
    return config_failure({"--port", "expected 0 to 65535"});
  if (!db.empty())
    cfg.database.path = db;
  if (!level.empty())
    cfg.log_level = level;
  if (!validate_config(cfg, err))
    return config_failure(err);
  read_secrets(cfg.secrets);
  return serve(cfg);
}

} // namespace

int run_command_line(int argc, char** argv) {
  if (argc < 2)
    return usage_error("no command");
  std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    std::cout << "orchd " << ORCHD_VERSION << "\n";
    return exit_ok;
  }
  if (cmd == "--help" || cmd == "help") {
    std::cout << usage_text;
    return exit_ok;
  }
  if (cmd == "check-config") {
    if (argc != 3)
      return usage_error("check-config takes one file");
    return check_config(argv[2]);
  }
  if (cmd == "serve")
    return serve_command(argc, argv);
  return usage_error("unknown command " + cmd);
}

} // namespace orchd
