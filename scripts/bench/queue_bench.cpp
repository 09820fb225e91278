// Benchmark of the job engine, in one run on one machine (issue: job
// engine). Prints a table:
//  (a) queue operations alone: enqueue, claim, finalise through the storage
//      actor from N concurrent requesters, no process;
//  (b) end to end: the scheduler with real runners spawning a no-op agent
//      that prints a success result, max_concurrency 16, against the raw
//      rate of spawning and reaping the same program in a tight loop;
//  (c) enqueue-to-exec latency with a free slot: from the enqueue request
//      to the agent's first instruction (its own clock reading).
#include "actors/core/actors.hpp"
#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/engine/runner.hpp"
#include "actors/engine/scheduler.hpp"
#include "actors/os/child_process.hpp"
#include "actors/os/environment.hpp"
#include "scripts/bench/bench_db.hpp"
#include "storage/database.hpp"
#include "storage/storage_actor.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

using namespace orchd;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  int requesters = 64;
  int jobs_per_requester = 500;
  int process_jobs = 2000;
  int concurrency = 16;
  int latency_samples = 300;
  std::string synchronous = "full";
  std::string dir = "var/bench";
  /// Which parts to run, e.g. "a" to profile the queue alone.
  std::string parts = "abc";
};

const char* success_json =
    R"({"type":"result","subtype":"success","is_error":false,"result":"ok"})";

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

std::shared_ptr<storage::database> fresh_db(const options& opt,
                                            const std::string& name) {
  return bench::fresh_db(opt.dir, name, opt.synchronous);
}

// -- (a) queue operations -----------------------------------------------------

struct queue_requester_state {
  int left = 0;
  // Runs one job through the queue; lives in the state (not a closure
  // holding itself) so the actor and its storage handle are released on
  // quit.
  std::function<void()> step;
  static inline const char* name = "bench.queue_requester";
};

// Enqueue, claim, mark done, `n` times, one job in flight per requester.
caf::behavior queue_requester(caf::stateful_actor<queue_requester_state>* self,
                              storage_actor storage, int n,
                              std::shared_ptr<std::atomic<int>> done,
                              caf::actor notify) {
  self->state.left = n;
  self->state.step = [self, storage, done, notify] {
    if (self->state.left-- == 0) {
      self->send(notify, caf::atom("done"));
      self->quit();
      return;
    }
    new_job j;
    j.agent = "developer";
    j.repo = "bench/repo";
    self->request(storage, caf::infinite, atom::enqueue_v, j)
        .then([self, storage, done](int64_t) {
          self->request(storage, caf::infinite, atom::claim_v, claim_options{})
              .then(
                  [self, storage, done](const job_row& job) {
                    job_mark m{job.id, job_status::done, caf::none, caf::none,
                               caf::none};
                    self->request(storage, caf::infinite, atom::finalise_v, m)
                        .then([self, done](bool) {
                          ++*done;
                          self->state.step();
                        });
                  },
                  [self](const caf::error&) { self->state.step(); });
        });
  };
  self->state.step();
  return {[](caf::atom_value) {
  }};
}

void bench_queue(caf::actor_system& sys, const options& opt) {
  auto storage = storage::spawn_storage(sys, fresh_db(opt, "queue.db"), true);
  auto done = std::make_shared<std::atomic<int>>(0);
  caf::scoped_actor self{sys};
  auto t0 = clock_type::now();
  for (int i = 0; i < opt.requesters; ++i)
    sys.spawn(queue_requester, storage, opt.jobs_per_requester, done,
              caf::actor{self});
  for (int i = 0; i < opt.requesters; ++i)
    self->receive([](caf::atom_value) {});
  auto secs = seconds_since(t0);
  storage_stats stats;
  self->request(storage, caf::infinite, atom::stats_v)
      .receive([&](storage_stats s) { stats = s; }, [](caf::error&) {});
  self->request(storage, caf::infinite, atom::shutdown_v)
      .receive([](bool) {}, [](caf::error&) {});
  std::printf("| (a) queue ops, %2d requesters  | %7d | %7.2f | %7lld | "
              "%9.0f |\n",
              opt.requesters, done->load(), secs,
              static_cast<long long>(stats.commits), done->load() / secs);
}

// -- (b) end to end against raw spawning --------------------------------------

std::vector<std::string> agent_argv() {
  return {"/bin/sh", "-c", std::string{"echo '"} + success_json + "'"};
}

double raw_spawn_rate(int n) {
  auto argv_s = agent_argv();
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto t0 = clock_type::now();
  for (int i = 0; i < n; ++i) {
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
      std::exit(1);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    waitpid(pid, &status, 0);
  }
  return n / seconds_since(t0);
}

struct engine {
  std::shared_ptr<child_watcher> watcher = std::make_shared<child_watcher>();
  storage_actor storage;
  scheduler_actor scheduler;

  engine(caf::actor_system& sys, const options& opt, const std::string& name,
         int concurrency) {
    storage = storage::spawn_storage(sys, fresh_db(opt, name), true);
    auto rs = std::make_shared<runner_settings>();
    rs->output_dir = std::filesystem::absolute(opt.dir + "/runs").string();
    rs->workspace_root = std::filesystem::absolute(opt.dir + "/ws").string();
    rs->instance = name;
    rs->env = child_environment({"FAKE_AGENT_*"});
    std::filesystem::create_directories(rs->output_dir);
    std::filesystem::create_directories(rs->workspace_root);
    scheduler_settings s;
    s.max_concurrency = concurrency;
    agent_config agent;
    auto argv = agent_argv();
    agent.program = argv[0];
    agent.args.assign(argv.begin() + 1, argv.end());
    s.agents["noop"] = agent;
    agent.args = {"-c", std::string{"date +%s%N; echo '"} + success_json + "'"};
    s.agents["clock"] = agent;
    scheduler = spawn_scheduler(sys, storage, s,
                                process_runners(sys, storage, watcher, rs));
  }

  int64_t done(caf::scoped_actor& self) {
    int64_t n = 0;
    self->request(storage, caf::infinite, atom::job_counts_v)
        .receive([&](job_counts c) { n = c.done + c.failed; },
                 [](caf::error&) {});
    return n;
  }

  void stop(caf::scoped_actor& self) {
    self->request(scheduler, caf::infinite, atom::drain_v, int64_t{0})
        .receive([](int64_t) {}, [](caf::error&) {});
    caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
    self->request(storage, caf::infinite, atom::shutdown_v)
        .receive([](bool) {}, [](caf::error&) {});
  }
};

void bench_end_to_end(caf::actor_system& sys, const options& opt) {
  auto raw = raw_spawn_rate(opt.process_jobs / 2);
  engine e{sys, opt, "e2e.db", opt.concurrency};
  caf::scoped_actor self{sys};
  auto t0 = clock_type::now();
  for (int i = 0; i < opt.process_jobs; ++i) {
    new_job j;
    j.agent = "noop";
    j.repo = "bench/repo";
    self->send(e.scheduler, atom::enqueue_v, j);
  }
  while (e.done(self) < opt.process_jobs)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto secs = seconds_since(t0);
  e.stop(self);
  std::printf("| (b) raw spawn+reap, 1 at a time | %7d | %7s | %7s | %9.0f |\n",
              opt.process_jobs / 2, "", "", raw);
  std::printf("| (b) end to end, concurrency %2d | %7d | %7.2f | %7s | %9.0f "
              "| %.2fx raw\n",
              opt.concurrency, opt.process_jobs, secs, "",
              opt.process_jobs / secs, opt.process_jobs / secs / raw);
}

// -- (c) enqueue-to-exec latency ----------------------------------------------

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void bench_latency(caf::actor_system& sys, const options& opt) {
  engine e{sys, opt, "latency.db", 16};
  caf::scoped_actor self{sys};
  std::vector<double> ms;
  for (int i = 0; i < opt.latency_samples; ++i) {
    new_job j;
    j.agent = "clock";
    j.repo = "bench/repo";
    auto t0 = realtime_ns();
    int64_t id = 0;
    self->request(e.scheduler, caf::infinite, atom::enqueue_v, j)
        .receive([&](int64_t x) { id = x; }, [](caf::error&) {});
    // One at a time, so the slot is always free.
    while (e.done(self) < i + 1)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    job_row row;
    self->request(e.storage, caf::infinite, atom::job_by_id_v, id)
        .receive([&](job_row r) { row = std::move(r); }, [](caf::error&) {});
    std::ifstream log{opt.dir + "/runs/" + std::to_string(*row.run_id) +
                      ".log"};
    int64_t exec_ns = 0;
    log >> exec_ns;
    ms.push_back((exec_ns - t0) / 1e6);
  }
  e.stop(self);
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  };
  std::printf("| (c) enqueue-to-exec, %d samples: p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms\n",
              opt.latency_samples, at(0.5), at(0.99), ms.back());
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  bench::read_options(argc, argv,
                      [&](const std::string& k, const std::string& v) {
                        if (k == "--dir")
                          opt.dir = v;
                        else if (k == "--requesters")
                          opt.requesters = std::stoi(v);
                        else if (k == "--jobs-per-requester")
                          opt.jobs_per_requester = std::stoi(v);
                        else if (k == "--process-jobs")
                          opt.process_jobs = std::stoi(v);
                        else if (k == "--latency-samples")
                          opt.latency_samples = std::stoi(v);
                        else if (k == "--synchronous")
                          opt.synchronous = v;
                        else if (k == "--parts")
                          opt.parts = v;
                        else
                          return false;
                        return true;
                      });
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  log::set_level(log::level::error);
  std::filesystem::create_directories(opt.dir);
  caf::actor_system_config cfg;
  register_types(cfg);
  configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  std::printf("synchronous=%s, %u cores\n", opt.synchronous.c_str(),
              std::thread::hardware_concurrency());
  std::printf("| mode                            |    jobs | seconds | commits "
              "|    jobs/s |\n");
  std::printf("|---------------------------------|---------|---------|--------"
              "-|-----------|\n");
  auto wanted = [&](char part) {
    return opt.parts.find(part) != std::string::npos;
  };
  if (wanted('a'))
    bench_queue(sys, opt);
  if (wanted('b'))
    bench_end_to_end(sys, opt);
  if (wanted('c'))
    bench_latency(sys, opt);
  return 0;
}
