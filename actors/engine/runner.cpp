#include "actors/engine/runner.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/agent_result.hpp"
#include "actors/logic/economics.hpp"
#include "actors/logic/pipeline.hpp"
#include "actors/os/child_process.hpp"
#include "actors/os/crash_point.hpp"
#include "actors/os/worktree.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

namespace orchd {

std::vector<std::string>
expand_args(const std::vector<std::string>& args,
            const std::vector<std::pair<std::string, std::string>>& values) {
  std::vector<std::string> out;
  for (auto arg : args) {
    for (auto& [key, value] : values) {
      auto placeholder = "{" + key + "}";
      for (auto at = arg.find(placeholder); at != std::string::npos;
           at = arg.find(placeholder, at + value.size()))
        arg.replace(at, placeholder.size(), value);
    }
    out.push_back(std::move(arg));
  }
  return out;
}

runner_state::~runner_state() {
  // A runner that terminates for any reason before its agent exited takes
  // the agent's process group with it: no agent outlives its runner (the
  // scheduler then finalises the job as a crash).
  if (pid != 0 && !exited && watcher)
    watcher->signal_group(pid, SIGKILL);
}

namespace {

std::string job_name(const runner_state& st) {
  return "orchd.runner: job " + std::to_string(st.job.id);
}

void report(runner_pointer self, run_kind kind, std::string error,
            int64_t retry_after_s = 0, std::string result_text = {}) {
  auto& st = self->state;
  if (st.reported)
    return;
  st.reported = true;
  self->send(st.scheduler, atom::finish_v,
             run_report{st.job.id, st.run_id, kind, std::move(error),
                        retry_after_s, std::move(result_text)});
  self->quit();
}

std::string kill_error(const runner_state& st) {
  if (st.kill_reason == run_kind::timeout)
    return "agent timed out after " + std::to_string(st.agent.timeout_s) + " s";
  if (st.kill_reason == run_kind::cancelled)
    return "cancelled";
  return "daemon stopped while the agent ran";
}

// A run's cost when its agent reported none: from the price table, marked
// computed; a model without a price is said once per model (the run keeps
// its tokens, its cost stays unknown).
void price_run(const runner_state& st, const agent_result& result,
               run_outcome& out) {
  auto model = result.model.empty() ? st.agent.model : result.model;
  auto cost = economics::cost_of(result.usage, model, st.settings->prices);
  out.usage.cost_usd = cost.usd;
  out.cost_computed = cost.computed;
  auto& u = result.usage;
  if (cost.usd || !(u.input_tokens || u.output_tokens || u.cache_read_tokens ||
                    u.cache_creation_tokens))
    return;
  static std::mutex mutex;
  static std::set<std::string> told;
  std::lock_guard<std::mutex> guard{mutex};
  if (told.insert(model).second)
    log::warn("orchd.runner: model '", model,
              "' has no price and its agent reported no cost: its runs keep "
              "their tokens, their cost stays unknown (add it to `prices`)");
}

void on_exit(runner_pointer self, process_exit e) {
  auto& st = self->state;
  st.exited = true;
  auto result = parse_agent_result(e.stdout_tail, std::time(nullptr));
  auto verdict = classify_run(result, e.exit_code);
  if (st.kill_reason && verdict.kind != run_kind::success) {
    verdict.kind = *st.kill_reason;
    verdict.error = kill_error(st);
    verdict.retry_after_s = 0;
  }
  log::event(log::level::info, "agent_end", job_name(st), ": run ", st.run_id,
             " ended: ", to_string(verdict.kind), " (exit ", e.exit_code, ", ",
             e.log_bytes, " bytes logged",
             e.dropped_bytes > 0 ? ", output capped" : "", ")");
  run_outcome out;
  out.run_id = st.run_id;
  out.exit_code = e.exit_code;
  out.usage = result.usage;
  out.model = result.model;
  price_run(st, result, out);
  out.outcome = verdict.kind;
  out.error = verdict.error;
  out.retry_after_s = verdict.retry_after_s;
  if (auto says = pipeline::parse_verdict(result.text);
      says != pipeline::verdict::none)
    out.verdict = pipeline::to_string(says);
  // A success's text may state a verdict (the pipeline reads its last
  // line); nothing else of it travels.
  auto text = verdict.kind == run_kind::success ? std::move(result.text)
                                                : std::string{};
  self->request(st.storage, st.settings->storage_timeout, atom::finish_run_v,
                out)
      .then(
          [self, verdict, text](bool) {
            crash_point(crash_at::outcome);
            report(self, verdict.kind, verdict.error, verdict.retry_after_s,
                   text);
          },
          [self, verdict, text](const caf::error& err) {
            log::warn(job_name(self->state),
                      ": cannot record the run's end: ", describe(err));
            report(self, verdict.kind, verdict.error, verdict.retry_after_s,
                   text);
          });
}

void stop_agent(runner_pointer self, run_kind reason) {
  auto& st = self->state;
  if (!st.kill_reason)
    st.kill_reason = reason;
  if (st.pid == 0 || st.exited)
    return; // stopped as soon as it is spawned, or already gone
  log::info(job_name(st), ": stopping agent pid ", st.pid, " (",
            to_string(reason), ")");
  st.watcher->signal_group(st.pid, SIGTERM);
  self->delayed_send(self, st.settings->kill_grace, atom::kill_v);
}

void launch(runner_pointer self) {
  auto& st = self->state;
  const auto& cfg = *st.settings;
  auto stem = cfg.output_dir + "/" + std::to_string(st.run_id);
  auto task_file = stem + ".task";
  {
    std::ofstream out{task_file, std::ios::binary | std::ios::trunc};
    out << st.job.task_content;
    if (!out) {
      report(self, run_kind::crash, "cannot write the task file " + task_file);
      return;
    }
  }
  auto attempt = std::to_string(st.job.attempts);
  auto job_id = std::to_string(st.job.id);
  std::vector<std::pair<std::string, std::string>> values = {
      {"task_file", task_file},    {"model", st.agent.model},
      {"effort", st.agent.effort}, {"worktree", st.cwd},
      {"job_id", job_id},          {"attempt", attempt}};
  spawn_request req;
  req.program = st.agent.program;
  req.args = expand_args(st.agent.args, values);
  req.cwd = st.cwd;
  req.stdin_path = task_file;
  req.log_path = stem + ".log";
  req.output_cap_bytes = cfg.output_cap_bytes;
  req.env = cfg.env;
  auto task_id = st.job.task_id ? std::to_string(*st.job.task_id) : "";
  for (auto& [k, v] : std::vector<std::pair<const char*, std::string>>{
           {"ORCHD_TASK_ID", task_id},
           {"ORCHD_JOB_ID", job_id},
           {"ORCHD_ATTEMPT", attempt},
           {"ORCHD_IDEMPOTENCY_KEY", job_id + "-" + attempt},
           {"ORCHD_STAGE", to_string(st.task.stage)},
           {"ORCHD_AGENT", st.job.agent},
           {"ORCHD_WORK_ITEM", st.task.work_item_id},
           {"ORCHD_BRANCH", st.task.branch},
           {"ORCHD_WORKTREE", st.cwd},
           {"ORCHD_RUN_ID", std::to_string(st.run_id)},
           {"ORCHD_TASK_FILE", task_file},
           {"ORCHD_MODEL", st.agent.model},
           {"ORCHD_EFFORT", st.agent.effort},
           {"ORCHD_INSTANCE", cfg.instance}})
    req.env.push_back(std::string{k} + "=" + v);
  auto handle = caf::actor_cast<runner_actor>(self);
  auto pid = st.watcher->spawn(req, [handle](process_exit e) {
    caf::anon_send(handle, atom::exited_v, std::move(e));
  });
  if (!pid) {
    auto error = describe(pid.error());
    log::error(job_name(st), ": ", error);
    run_outcome out;
    out.run_id = st.run_id;
    out.exit_code = -1;
    out.outcome = run_kind::crash;
    out.error = error;
    self->request(st.storage, cfg.storage_timeout, atom::finish_run_v, out)
        .then([](bool) {},
              [self](const caf::error& err) {
                log::warn(job_name(self->state),
                          ": cannot record the failed start: ", describe(err));
              });
    report(self, run_kind::crash, error);
    return;
  }
  st.pid = *pid;
  // The pid is durable before the exit is acted on: `await` holds every
  // other message (the exit among them) until storage answers. "started"
  // is logged then, so whoever reads it finds the pid in the database.
  self->request(st.storage, cfg.storage_timeout, atom::stamp_pid_v,
                job_pid{st.job.id, st.run_id, st.pid})
      .await(
          [self](bool) {
            auto& st = self->state;
            log::event(log::level::info, "agent_start", job_name(st),
                       ": started run ", st.run_id, ", pid ", st.pid,
                       " (agent ", st.job.agent, ", attempt ", st.job.attempts,
                       "/", st.job.max_attempts, ")");
            crash_point(crash_at::spawn);
          },
          [self](const caf::error& err) {
            log::warn(job_name(self->state),
                      ": cannot stamp the pid: ", describe(err));
          });
  self->delayed_send(self, std::chrono::seconds(st.agent.timeout_s),
                     atom::timeout_v);
  if (st.kill_reason)
    stop_agent(self, *st.kill_reason);
}

void begin_run(runner_pointer self) {
  auto& st = self->state;
  if (st.job.task_id && st.task.id != 0) {
    worktree_spec spec;
    spec.workspace_root = st.settings->workspace_root;
    spec.repo = st.task.repo;
    spec.work_item_id = st.task.work_item_id;
    st.cwd = worktree_path(spec);
  } else {
    st.cwd = st.settings->workspace_root;
    std::error_code ec;
    std::filesystem::create_directories(st.cwd, ec);
  }
  if (!std::filesystem::is_directory(st.cwd)) {
    if (st.task.stage == task_stage::setup_failed) {
      // Its git failed: a setup problem, not a wait. The job's attempts
      // apply and its error names the worktree.
      report(self, run_kind::fault,
             "the worktree " + st.cwd +
                 " could not be made (the task is "
                 "in setup_failed)");
      return;
    }
    // Not made yet (the task creator is on it): wait without spending a
    // code-fault attempt, within the transient budget.
    report(self, run_kind::transient,
           "the worktree " + st.cwd + " is not ready");
    return;
  }
  run_start start;
  start.job_id = st.job.id;
  start.run.task_id = st.job.task_id;
  start.run.agent = st.job.agent;
  start.run.model = st.agent.model;
  start.run.effort = st.agent.effort;
  start.output_dir = st.settings->output_dir;
  self->request(st.storage, st.settings->storage_timeout, atom::begin_run_v,
                start)
      .then(
          [self](int64_t run_id) {
            self->state.run_id = run_id;
            launch(self);
          },
          [self](const caf::error& err) {
            // A job that stopped running meanwhile (cancelled) is not ours.
            auto kind =
                err == ec::conflict ? run_kind::cancelled : run_kind::crash;
            report(self, kind, "cannot start the run: " + describe(err));
          });
}

std::string runner_name(const runner_state& st) {
  return "runner/" + std::to_string(st.job.id);
}

std::string status_summary(const runner_state& st) {
  std::error_code ec;
  auto path =
      st.settings->output_dir + "/" + std::to_string(st.run_id) + ".log";
  auto bytes = st.run_id == 0 ? 0 : std::filesystem::file_size(path, ec);
  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::steady_clock::now() - st.born);
  return nlohmann::json{
      {"job", st.job.id},
      {"task", st.job.task_id.value_or(0)},
      {"stage", st.task.id != 0 ? to_string(st.task.stage) : std::string{}},
      {"agent", st.job.agent},
      {"run", st.run_id},
      {"pid", st.pid},
      {"elapsed_s", elapsed.count()},
      {"output_bytes", ec ? 0 : bytes}}
      .dump();
}

} // namespace

runner_actor::behavior_type
runner(runner_pointer self, storage_actor storage, scheduler_actor scheduler,
       std::shared_ptr<child_watcher> watcher,
       std::shared_ptr<const runner_settings> settings, job_row job,
       agent_config agent) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.scheduler = std::move(scheduler);
  st.watcher = std::move(watcher);
  st.settings = std::move(settings);
  st.job = std::move(job);
  st.agent = std::move(agent);
  enroll(st.settings->inspector, runner_name(st), self);
  if (st.job.task_id) {
    self->request(st.storage, st.settings->storage_timeout, atom::task_by_id_v,
                  *st.job.task_id)
        .then(
            [self](task_row& task) {
              self->state.task = std::move(task);
              begin_run(self);
            },
            [self](const caf::error& err) {
              if (err == ec::no_such_task) {
                begin_run(self);
                return;
              }
              report(self, run_kind::crash,
                     "cannot read the task: " + describe(err));
            });
  } else {
    begin_run(self);
  }
  return counted(
      self->state.vitals,
      runner_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, runner_name(self->state),
                             status_summary(self->state));
          },
          [self](atom::kill, run_kind reason) { stop_agent(self, reason); },
          [self](atom::kill) {
            auto& st = self->state;
            if (st.pid != 0 && !st.exited)
              st.watcher->signal_group(st.pid, SIGKILL);
          },
          [self](atom::timeout) {
            if (!self->state.exited)
              stop_agent(self, run_kind::timeout);
          },
          [self](atom::exited, process_exit& e) {
            on_exit(self, std::move(e));
          },
      });
}

runner_actor spawn_runner(caf::actor_system& sys, const storage_actor& storage,
                          const scheduler_actor& scheduler,
                          std::shared_ptr<child_watcher> watcher,
                          std::shared_ptr<const runner_settings> settings,
                          job_row job, agent_config agent) {
  return sys.spawn(runner, storage, scheduler, std::move(watcher),
                   std::move(settings), std::move(job), std::move(agent));
}

} // namespace orchd
