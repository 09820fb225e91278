#include "actors/daemon/daemon.hpp"

#include "actors/admin/admin_api.hpp"
#include "actors/admin/inspector.hpp"
#include "actors/core/actors.hpp"
#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/daemon/supervisor.hpp"
#include "actors/engine/freeze_manager.hpp"
#include "actors/engine/reaper.hpp"
#include "actors/engine/recovery.hpp"
#include "actors/engine/retention.hpp"
#include "actors/engine/runner.hpp"
#include "actors/engine/scheduler.hpp"
#include "actors/intake/ci_events.hpp"
#include "actors/intake/intake.hpp"
#include "actors/intake/task_creator.hpp"
#include "actors/logic/economics.hpp"
#include "actors/logic/signature.hpp"
#include "actors/os/child_process.hpp"
#include "actors/os/environment.hpp"
#include "actors/os/instance_lock.hpp"
#include "actors/os/resources.hpp"
#include "actors/pipeline/pipeline_actor.hpp"
#include "actors/pipeline/plane_outbox.hpp"
#include "actors/pipeline/reconciler.hpp"
#include "actors/tracker/tracker.hpp"
#include "http/client/https_client.hpp"
#include "http/server/server.hpp"
#include "storage/database.hpp"
#include "storage/storage_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <sys/stat.h>
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
  // The secrets were taken out of the environment when they were read.
  s->env = child_environment(cfg.runner.pass_env);
  s->prices = cfg.prices;
  return s;
}

retry_policy retry_policy_of(const config& cfg) {
  return {cfg.scheduler.backoff_base_s, cfg.scheduler.backoff_cap_s,
          cfg.scheduler.max_interruptions,
          cfg.scheduler.max_transient_attempts};
}

scheduler_settings make_scheduler_settings(const config& cfg) {
  scheduler_settings s;
  s.max_concurrency = cfg.scheduler.max_concurrency;
  for (auto& p : cfg.projects)
    if (p.max_concurrency > 0)
      s.repo_caps[p.repo] = p.max_concurrency;
  s.dependency_gate = cfg.scheduler.dependency_gate;
  s.serial_gate_agents = cfg.scheduler.serial_gate_agents;
  s.backoff = retry_policy_of(cfg);
  s.agents = cfg.agents;
  s.account_holds = cfg.scheduler.account_holds;
  for (auto& p : cfg.projects)
    if (p.budget_usd > 0 || p.daily_budget_usd > 0)
      s.budgets.push_back({p.repo, p.budget_usd, p.daily_budget_usd,
                           utc_offset_of(p.time_zone).value_or(0)});
  return s;
}

recovery_settings make_recovery_settings(const config& cfg,
                                         const std::string& instance) {
  recovery_settings s;
  s.instance = instance;
  s.policy = retry_policy_of(cfg);
  for (auto& [name, agent] : cfg.agents)
    s.agent_programs.push_back(agent.program);
  // The CLI the Python orchestrator ran its agents with.
  s.agent_programs.push_back("claude");
  s.kill_grace_ms = cfg.runner.kill_grace_s * 1000;
  return s;
}

reaper_settings make_reaper_settings(const config& cfg,
                                     const std::string& instance) {
  reaper_settings s;
  s.interval = std::chrono::seconds(cfg.reaper.interval_s);
  s.finalise_grace_s = cfg.reaper.finalise_grace_s;
  s.backstop_s = cfg.reaper.backstop_s;
  s.backoff = retry_policy_of(cfg);
  s.instance = instance;
  return s;
}

retention_settings make_retention_settings(const config& cfg,
                                           const runner_settings& runners) {
  retention_settings s;
  s.interval = std::chrono::seconds(cfg.retention.interval_s);
  s.event_payload_days = cfg.retention.event_payload_days;
  s.run_log_days = cfg.retention.run_log_days;
  s.worktree_days = cfg.retention.worktree_days;
  s.output_dir = runners.output_dir;
  s.workspace_root = runners.workspace_root;
  for (auto& p : cfg.projects)
    s.clones[p.repo] = p.clone_path;
  return s;
}

http::server_options make_http_options(const config& cfg) {
  http::server_options o;
  o.address = cfg.listen.address;
  o.port = static_cast<uint16_t>(cfg.listen.port);
  o.threads = static_cast<int>(cfg.http.threads);
  o.header_limit = static_cast<size_t>(cfg.http.header_limit_bytes);
  o.webhook_body_limit = static_cast<size_t>(cfg.http.webhook_body_limit_bytes);
  o.body_limit = static_cast<size_t>(cfg.http.body_limit_bytes);
  o.header_timeout = std::chrono::seconds(cfg.http.header_timeout_s);
  o.body_timeout = std::chrono::seconds(cfg.http.body_timeout_s);
  o.reply_timeout = std::chrono::seconds(cfg.http.reply_timeout_s);
  o.max_connections = static_cast<size_t>(cfg.http.max_connections);
  o.max_buffered_bytes = static_cast<size_t>(cfg.http.max_buffered_bytes);
  o.admin_token = cfg.secrets.admin_token;
  o.metrics_require_token = cfg.metrics.require_token;
  if (auto admin = parse_listen_address(cfg.admin.listen))
    o.admin_listen = http::listen_address{admin->address,
                                          static_cast<uint16_t>(admin->port)};
  return o;
}

intake_settings make_intake_settings(const config& cfg) {
  intake_settings s;
  s.plane_secret = cfg.secrets.plane_webhook_secret;
  s.github_secret = cfg.secrets.github_webhook_secret;
  s.allow_unsigned_plane = cfg.webhooks.allow_unsigned_plane;
  s.allow_unsigned_github = cfg.webhooks.allow_unsigned_github;
  s.plane_bot_user_id = cfg.webhooks.plane_bot_user_id;
  s.max_json_depth = static_cast<size_t>(cfg.webhooks.max_json_depth);
  s.storage_timeout = std::chrono::seconds(cfg.http.reply_timeout_s);
  s.sweep_interval = std::chrono::seconds(cfg.webhooks.sweep_interval_s);
  s.sweep_grace_s = cfg.webhooks.sweep_grace_s;
  return s;
}

// Standard fds, the log level, and the stop signals blocked in every
// thread started from here on (CAF's workers, the detached storage
// thread), so only sigwait sees them.
bool prepare_process(const config& cfg, const sigset_t& signals) {
  ensure_standard_fds();
  // Everything orchd and its children create is its user's alone.
  ::umask(private_umask);
  log::level lvl = log::level::info;
  log::parse_level(cfg.log_level, lvl);
  log::set_level(lvl);
  log::format fmt = log::format::plain;
  log::parse_format(cfg.log_format, fmt);
  log::set_format(fmt);
  metrics::set_enabled(cfg.metrics.enabled);
  if (auto rc = pthread_sigmask(SIG_BLOCK, &signals, nullptr); rc != 0) {
    log::error("cannot block signals: ", std::strerror(rc));
    return false;
  }
  return true;
}

caf::expected<std::shared_ptr<storage::database>>
open_database(const config& cfg) {
  storage::open_options opts;
  opts.path = cfg.database.path;
  opts.synchronous = cfg.database.synchronous;
  opts.busy_timeout_ms = cfg.database.busy_timeout_ms;
  auto db = storage::database::open(opts);
  if (!db)
    return db.error();
  log::info("orchd.storage: ", cfg.database.path,
            " open (synchronous=", cfg.database.synchronous, ")");
  return std::shared_ptr<storage::database>{std::move(*db)};
}

// What an earlier daemon (or the Python orchestrator, or a wider umask)
// left readable to others is narrowed to orchd's user, and said.
void keep_private(const std::string& path, mode_t allowed) {
  if (auto was = narrow_mode(path, allowed)) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(*was));
    log::warn("made ", path, " private (mode was ", text, ")");
  }
}

caf::error make_folders(const runner_settings& runners) {
  for (auto& dir : {runners.output_dir, runners.workspace_root}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return caf::make_error(ec::io_failed,
                             "cannot create " + dir + ": " + ec.message());
    keep_private(dir, 0700);
  }
  return caf::none;
}

// Set when a supervised actor died: the daemon then exits non-zero.
std::atomic<bool> actor_died{false};

// The daemon's long-lived actors, started in order and stopped in reverse.
struct daemon_actors {
  storage_actor storage;
  plane_outbox_actor plane;
  tracker_actor tracker;
  pipeline_actor pipeline;
  scheduler_actor scheduler;
  freeze_manager_actor freezes;
  reaper_actor reaper;
  retention_actor retention;
  task_creator_actor creator;
  ci_events_actor ci;
  reconciler_actor reconciler;
  intake_actor intake;
  admin_api_actor admin;
  inspector_actor inspector;
  supervisor_actor supervisor;
};

// The job engine and the front door's actors, behind storage; every one
// watched by the supervisor.
daemon_actors start_actors(caf::actor_system& sys, const config& cfg,
                           storage_actor storage, plane_outbox_actor plane,
                           tracker_actor tracker, pipeline_actor pipeline,
                           std::shared_ptr<const runner_settings> runners,
                           const std::string& instance) {
  daemon_actors a;
  a.storage = std::move(storage);
  // Every long-lived actor, and each runner while it lives, registers with
  // the inspector (GET /actors, the console).
  a.inspector = spawn_inspector(sys);
  auto enrolled = std::make_shared<runner_settings>(*runners);
  enrolled->inspector = a.inspector;
  runners = std::move(enrolled);
  auto watcher = std::make_shared<child_watcher>();
  auto timeout = std::chrono::seconds(cfg.http.reply_timeout_s);
  // The pipeline judges what the scheduler finalises, and wakes it for
  // the jobs its transitions enqueue: spawned first, attached after.
  a.plane = std::move(plane);
  a.tracker = std::move(tracker);
  a.pipeline = std::move(pipeline);
  auto sched = make_scheduler_settings(cfg);
  sched.pipeline = a.pipeline;
  sched.tracker = a.tracker;
  a.scheduler =
      spawn_scheduler(sys, a.storage, std::move(sched),
                      process_runners(sys, a.storage, watcher, runners));
  caf::anon_send(a.pipeline, atom::attach_v,
                 caf::actor_cast<caf::actor>(a.scheduler));
  a.freezes = spawn_freeze_manager(sys, a.storage, a.scheduler, timeout);
  auto reaping = make_reaper_settings(cfg, instance);
  reaping.pipeline = a.pipeline;
  a.reaper = spawn_reaper(sys, a.storage, a.scheduler, std::move(reaping),
                          real_process_probe(instance));
  a.retention =
      spawn_retention(sys, a.storage, make_retention_settings(cfg, *runners));
  a.creator = spawn_task_creator(sys, a.storage, cfg, a.scheduler, a.pipeline);
  a.ci = spawn_ci_events(sys, a.storage, cfg, a.pipeline);
  auto reconciling = reconciler_settings_of(cfg);
  reconciling.send = http_client::make_sender(std::chrono::seconds(30));
  a.reconciler = spawn_reconciler(sys, a.storage, a.pipeline, a.creator,
                                  std::move(reconciling));
  a.intake =
      spawn_intake(sys, a.storage, a.creator, a.ci, make_intake_settings(cfg));
  a.admin = spawn_admin_api(sys,
                            admin_backends{a.storage, a.scheduler, a.freezes,
                                           a.creator, a.tracker, a.inspector},
                            timeout);
  for (auto& [name, h] : std::vector<std::pair<std::string, caf::actor>>{
           {"storage", caf::actor_cast<caf::actor>(a.storage)},
           {"intake", caf::actor_cast<caf::actor>(a.intake)},
           {"ci_events", caf::actor_cast<caf::actor>(a.ci)},
           {"task_creator", caf::actor_cast<caf::actor>(a.creator)},
           {"scheduler", caf::actor_cast<caf::actor>(a.scheduler)},
           {"reaper", caf::actor_cast<caf::actor>(a.reaper)},
           {"freeze_manager", caf::actor_cast<caf::actor>(a.freezes)},
           {"retention", caf::actor_cast<caf::actor>(a.retention)},
           {"pipeline", caf::actor_cast<caf::actor>(a.pipeline)},
           {"reconciler", caf::actor_cast<caf::actor>(a.reconciler)},
           {"plane_outbox", caf::actor_cast<caf::actor>(a.plane)},
           {"tracker", caf::actor_cast<caf::actor>(a.tracker)},
           {"admin_api", caf::actor_cast<caf::actor>(a.admin)}})
    enroll(a.inspector, name, h);
  auto as_actor = [](const auto& h) {
    return caf::actor_cast<caf::actor>(h);
  };
  a.supervisor = spawn_supervisor(
      sys,
      {as_actor(a.storage), as_actor(a.plane), as_actor(a.tracker),
       as_actor(a.pipeline), as_actor(a.scheduler), as_actor(a.freezes),
       as_actor(a.reaper), as_actor(a.retention), as_actor(a.creator),
       as_actor(a.ci), as_actor(a.reconciler), as_actor(a.intake),
       as_actor(a.admin), as_actor(a.inspector)},
      [](const std::string&, const std::string&) {
        actor_died = true;
        // Wakes the main thread's sigwait: the
        // daemon stops as on SIGTERM.
        ::kill(::getpid(), SIGTERM);
      });
  return a;
}

// A second signal stops running agents now; a third exits at once.
void handle_later_signals(const sigset_t& signals, scheduler_actor scheduler) {
  std::thread{[signals, scheduler] {
    auto again = wait_for_stop_signal(signals);
    log::warn("received ", strsignal(again),
              " again: stopping running agents (once more to exit now)");
    caf::anon_send(scheduler, atom::kill_v);
    auto third = wait_for_stop_signal(signals);
    log::warn("received ", strsignal(third), " a third time, exiting now");
    _exit(128 + third);
  }}.detach();
}

// Agent runs are long and cost money: running ones may finish (webhooks
// are still taken meanwhile), then the rest are stopped and requeued; the
// front door closes; storage commits its open batch and closes the file.
int stop_actors(caf::actor_system& sys, http::server& web,
                const daemon_actors& a, int64_t drain_s) {
  caf::anon_send(a.supervisor, atom::shutdown_v);
  caf::scoped_actor self{sys};
  self->request(a.scheduler, caf::infinite, atom::drain_v, drain_s)
      .receive([](int64_t) {},
               [](const caf::error& err) {
                 log::error("orchd.scheduler did not drain: ", describe(err));
               });
  for (auto h : {caf::actor_cast<caf::actor>(a.reaper),
                 caf::actor_cast<caf::actor>(a.retention),
                 caf::actor_cast<caf::actor>(a.freezes),
                 caf::actor_cast<caf::actor>(a.scheduler)})
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  // Stop taking work: no new request reaches intake after this.
  web.stop();
  for (auto h :
       {caf::actor_cast<caf::actor>(a.intake),
        caf::actor_cast<caf::actor>(a.creator),
        caf::actor_cast<caf::actor>(a.admin), caf::actor_cast<caf::actor>(a.ci),
        caf::actor_cast<caf::actor>(a.reconciler),
        caf::actor_cast<caf::actor>(a.pipeline),
        caf::actor_cast<caf::actor>(a.plane),
        caf::actor_cast<caf::actor>(a.tracker),
        caf::actor_cast<caf::actor>(a.inspector),
        caf::actor_cast<caf::actor>(a.supervisor)})
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  int result = exit_ok;
  self->request(a.storage, std::chrono::seconds(60), atom::shutdown_v)
      .receive([](bool) { log::info("orchd stopped"); },
               [&](const caf::error& err) {
                 log::error("orchd.storage did not shut down cleanly: ",
                            describe(err));
                 result = exit_failure;
               });
  return result;
}

} // namespace

int serve(const config& cfg) {
  auto signals = stop_signals();
  if (!prepare_process(cfg, signals))
    return exit_failure;
  // Out of fds, accept fails and agents cannot start: the connection cap
  // must leave room for the rest.
  auto fd_limit = raise_fd_limit();
  auto needed = static_cast<uint64_t>(cfg.http.max_connections) +
                fds_besides_connections(
                    static_cast<uint64_t>(cfg.scheduler.max_concurrency));
  if (fd_limit > 0 && needed > fd_limit) {
    log::error("invalid configuration: http.max_connections ",
               cfg.http.max_connections,
               " leaves too few file descriptors: ", "the limit is ", fd_limit,
               " and orchd needs ", needed,
               " with the agents, SQLite and logs (lower max_connections or "
               "raise the limit: ulimit -n, LimitNOFILE=)");
    return exit_usage;
  }
  // One daemon per database: a second one would requeue the first one's
  // running jobs and run them twice.
  auto lock = instance_lock::acquire(cfg.database.path);
  if (!lock) {
    log::error(describe(lock.error()));
    return lock.error() == ec::storage_unusable ? exit_storage : exit_failure;
  }
  for (auto suffix : {"", "-wal", "-shm", ".lock"})
    keep_private(cfg.database.path + suffix, 0600);
  auto db = open_database(cfg);
  if (!db) {
    log::error("cannot use the database: ", describe(db.error()));
    return exit_storage;
  }
  caf::actor_system_config sys_cfg;
  register_types(sys_cfg);
  configure_scheduler(sys_cfg);
  caf::actor_system sys{sys_cfg};
  auto storage = storage::spawn_storage(sys, std::move(*db), true,
                                        &economics::budget_hold);
  auto give_up = [&](const caf::error& err) {
    log::error(describe(err));
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
    return exit_failure;
  };
  // The agents this daemon starts carry its database's path, so the next
  // daemon over the same file finds those left behind.
  // Agents carry it (ORCHD_INSTANCE) so a restart finds what this
  // database's daemons started; opaque, so it does not tell them where the
  // database is.
  auto instance =
      hmac_sha256_hex("orchd instance", absolute_path(cfg.database.path))
          .substr(0, 16);
  auto runners = make_runner_settings(cfg, instance);
  if (auto err = make_folders(*runners))
    return give_up(err);
  // The port first: a daemon that cannot listen stops before its job
  // engine claims anything (no agent started for a daemon that exits).
  auto http_options = make_http_options(cfg);
  http::server web{http_options};
  auto port = web.listen();
  if (!port)
    return give_up(port.error());
  // Before recovery: a success left unfinalised is the pipeline's to
  // judge.
  auto plane =
      spawn_plane_outbox(sys, storage, plane_outbox_settings_of(cfg),
                         http_client::make_sender(std::chrono::seconds(30)));
  // The token never reaches a log line: the tracker redacts it from every
  // error it logs.
  auto tracker =
      spawn_tracker(sys, storage, tracker_settings_of(cfg),
                    http_client::make_sender(std::chrono::seconds(10)));
  auto judging = pipeline_settings_of(cfg);
  judging.send = http_client::make_sender(std::chrono::seconds(10));
  judging.tracker = tracker;
  auto pipeline = spawn_pipeline(sys, storage, plane, std::move(judging));
  auto recovery = make_recovery_settings(cfg, instance);
  recovery.pipeline = pipeline;
  auto recovered = recover_running_jobs(sys, storage, recovery);
  if (!recovered) {
    for (auto h : {caf::actor_cast<caf::actor>(plane),
                   caf::actor_cast<caf::actor>(tracker),
                   caf::actor_cast<caf::actor>(pipeline)})
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    return give_up(caf::make_error(
        ec::storage_failed,
        "cannot recover the jobs a previous daemon left running: " +
            describe(recovered.error())));
  }
  if (recovered->requeued + recovered->finalised > 0)
    log::warn("recovered the jobs a previous daemon left running: ",
              recovered->requeued, " interrupted, ", recovered->finalised,
              " finalised from their run's recorded end");
  auto actors =
      start_actors(sys, cfg, storage, std::move(plane), std::move(tracker),
                   std::move(pipeline), runners, instance);
  for (auto [name, secret] :
       {std::pair{"plane", &cfg.secrets.plane_webhook_secret},
        std::pair{"github", &cfg.secrets.github_webhook_secret}})
    if (secret->empty())
      log::warn("no ", name, " webhook secret is set: /webhooks/", name,
                " refuses every delivery");
  if (cfg.secrets.admin_token.empty())
    log::warn("no admin token is set (", cfg.secrets.admin_token_env,
              "): the admin routes refuse every request");
  // Events recorded but not handled when a previous daemon died are routed
  // before any new delivery (intake reads them first; storage answers in
  // order), then swept periodically.
  caf::anon_send(actors.intake, atom::sweep_v, int64_t{0});
  web.serve(http::backends{actors.intake, actors.admin});
  log::info("listening on ", cfg.listen.address, ":", *port);
  if (auto admin_port = web.admin_port())
    log::info("admin routes served on ", http_options.admin_listen->address,
              ":", admin_port, " (not on the main listener)");
  log::info("orchd ", ORCHD_VERSION, " ready: ", cfg.projects.size(),
            " projects, ", cfg.agents.size(), " agents");

  auto sig = wait_for_stop_signal(signals);
  if (actor_died)
    log::error("stopping because an actor died (see above)");
  else
    log::info("received ", strsignal(sig),
              ", stopping (again to stop running agents now)");
  handle_later_signals(signals, actors.scheduler);
  auto result = stop_actors(sys, web, actors, cfg.runner.drain_s);
  return actor_died ? exit_failure : result;
}

} // namespace orchd
