// The scheduler under the deterministic coordinator, with a real storage
// actor over a SQLite file and stand-in runners: claim order, the
// concurrency caps, finalising, cancel and the shutdown drain.
#include "actors/engine/scheduler.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>

using namespace orchd;

using orchd::test::sql_value;

namespace {

// What the stand-in runners saw: jobs started, in order, and kills.
struct runner_log {
  std::vector<int64_t> started;
  std::map<int64_t, std::string> killed;
  /// The newest runner of each job.
  std::map<int64_t, runner_actor> handles;
};

// A runner that runs nothing: the test reports for it. Killed, it reports
// the kill as the real runner does.
runner_actor fake_runner(caf::actor_system& sys, scheduler_actor scheduler,
                         job_row job, std::shared_ptr<runner_log> log) {
  log->started.push_back(job.id);
  // The job is an argument, not only a capture: CAF 0.17 dereferences a
  // null argument tuple when a function is spawned without any.
  return log->handles[job.id] = sys.spawn(
             [=](runner_actor::pointer self,
                 job_row) -> runner_actor::behavior_type {
               return {
                   [](atom::status) { return actor_status{"stand-in"}; },
                   [=](atom::kill, run_kind reason) {
                     log->killed[job.id] = to_string(reason);
                     self->send(
                         scheduler, atom::finish_v,
                         run_report{job.id, 0, reason, to_string(reason), 0});
                     self->quit();
                   },
                   [](atom::kill) {},
                   [](atom::timeout) {},
                   [](atom::exited, const process_exit&) {},
               };
             },
             job);
}

struct scheduler_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage_actor storage = storage::spawn_storage(sys, db, false);
  std::shared_ptr<runner_log> runners = std::make_shared<runner_log>();
  scheduler_actor scheduler;

  void start(scheduler_settings s) {
    s.agents["developer"] = agent_config{};
    s.agents["analyst"] = agent_config{};
    auto log = runners;
    auto* system = &sys;
    scheduler =
        spawn_scheduler(sys, storage, s,
                        [system, log](const scheduler_actor& self,
                                      const job_row& job, const agent_config&) {
                          return fake_runner(*system, self, job, log);
                        });
    run();
  }

  // Enqueues straight into the file (as if left by an earlier daemon).
  int64_t queued(const std::string& agent, const std::string& repo) {
    storage::store st{*db};
    new_job j;
    j.agent = agent;
    j.repo = repo;
    return test::unbox(st.enqueue(j));
  }

  void report(int64_t job, run_kind outcome, const std::string& error = "") {
    caf::anon_send(scheduler, atom::finish_v,
                   run_report{job, 0, outcome, error, 0});
    run();
  }

  // The drain's answer: the agents running when it began.
  template <class Handle>
  int64_t drained(Handle& pending) {
    int64_t n = -1;
    pending.receive([&](int64_t x) { n = x; },
                    [&](caf::error& err) { FAIL(describe(err)); });
    return n;
  }

  // The job's run ends with "usage limit reached", resetting in 60 s.
  void usage_limit(int64_t job) {
    caf::anon_send(scheduler, atom::finish_v,
                   run_report{job, 0, run_kind::transient,
                              "Claude AI usage limit reached", 60});
    run();
  }

  std::string status(int64_t job) {
    return sql_value(*db, "SELECT status FROM jobs WHERE id = " +
                              std::to_string(job));
  }

  ~scheduler_fixture() {
    // Strong handles would keep idle stand-in runners alive for good.
    runners->handles.clear();
    stop(scheduler, storage);
  }
};

} // namespace

TEST_CASE_FIXTURE(scheduler_fixture, "claims up to max_concurrency, oldest "
                                     "first, and the next when one ends") {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(queued("developer", "r"));
  scheduler_settings s;
  s.max_concurrency = 2;
  start(s);
  CHECK(runners->started == std::vector<int64_t>{ids[0], ids[1]});
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM jobs WHERE status = 'running'") ==
        "2");
  report(ids[1], run_kind::success);
  CHECK(status(ids[1]) == "done");
  CHECK(runners->started == std::vector<int64_t>{ids[0], ids[1], ids[2]});
  report(ids[0], run_kind::fault, "boom");
  // Attempt 1 of 2: back in the queue, and as the oldest claimed again.
  CHECK(runners->started ==
        std::vector<int64_t>{ids[0], ids[1], ids[2], ids[0]});
  CHECK(sql_value(*db, "SELECT attempts FROM jobs WHERE id = " +
                           std::to_string(ids[0])) == "2");
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM jobs WHERE status = 'running'") ==
        "2");
}

TEST_CASE_FIXTURE(scheduler_fixture, "an enqueue through the scheduler is "
                                     "claimed at once") {
  scheduler_settings s;
  start(s);
  new_job j;
  j.agent = "developer";
  j.repo = "r";
  auto id = test::unbox(ask<int64_t>(scheduler, atom::enqueue_v, j));
  CHECK(runners->started == std::vector<int64_t>{id});
  CHECK(status(id) == "running");
}

TEST_CASE_FIXTURE(scheduler_fixture, "a project's own cap holds its jobs, "
                                     "not the others'") {
  auto a1 = queued("developer", "busy");
  auto a2 = queued("developer", "busy");
  auto b1 = queued("developer", "idle");
  scheduler_settings s;
  s.max_concurrency = 4;
  s.repo_caps["busy"] = 1;
  start(s);
  CHECK(runners->started == std::vector<int64_t>{a1, b1});
  report(a1, run_kind::success);
  CHECK(runners->started == std::vector<int64_t>{a1, b1, a2});
}

TEST_CASE_FIXTURE(scheduler_fixture, "a job of an unknown agent fails "
                                     "without a slot") {
  auto bad = queued("nobody", "r");
  auto good = queued("developer", "r");
  scheduler_settings s;
  s.max_concurrency = 1;
  start(s);
  CHECK(status(bad) == "failed");
  CHECK(sql_value(*db,
                  "SELECT error FROM jobs WHERE id = " + std::to_string(bad)) ==
        "no agent 'nobody' is configured");
  CHECK(runners->started == std::vector<int64_t>{good});
}

TEST_CASE_FIXTURE(scheduler_fixture, "a transient outcome requeues with "
                                     "backoff, not an attempt") {
  auto id = queued("developer", "r");
  scheduler_settings s;
  s.backoff = {10, 600};
  start(s);
  report(id, run_kind::transient, "429");
  CHECK(status(id) == "queued");
  CHECK(sql_value(*db, "SELECT attempts, transient_attempts, "
                       "available_at > datetime('now', '+19 seconds') "
                       "FROM jobs") == "0|1|1");
  CHECK(runners->started.size() == 1);
}

TEST_CASE_FIXTURE(scheduler_fixture, "a usage limit holds its account's "
                                     "queued jobs until the reset, by one "
                                     "timer") {
  auto first = queued("developer", "r");
  auto same = queued("analyst", "r");
  auto other = queued("reviewer", "r");
  scheduler_settings s;
  s.max_concurrency = 1;
  agent_config reviewer;
  reviewer.account = "second";
  s.agents["reviewer"] = reviewer;
  start(s);
  CHECK(runners->started == std::vector<int64_t>{first});
  usage_limit(first);
  // The analyst shares the account: not claimed only to fail; the
  // reviewer's account is free.
  CHECK(runners->started == std::vector<int64_t>{first, other});
  auto holds =
      test::unbox(ask<std::vector<account_hold>>(scheduler, atom::holds_v));
  REQUIRE(holds.size() == 1);
  CHECK(holds[0].account == "default");
  CHECK(holds[0].agents == std::vector<std::string>{"analyst", "developer"});
  report(other, run_kind::success);
  CHECK(runners->started.size() == 2);
  CHECK(status(same) == "queued");
  sched.advance_time(std::chrono::seconds(59));
  run();
  CHECK(runners->started.size() == 2);
  sched.advance_time(std::chrono::seconds(1));
  run();
  // The reset: the account's jobs run again (the first one waits for its
  // own retry time, which SQLite's clock has not reached).
  CHECK(runners->started == std::vector<int64_t>{first, other, same});
  CHECK(test::unbox(ask<std::vector<account_hold>>(scheduler, atom::holds_v))
            .empty());
}

TEST_CASE_FIXTURE(scheduler_fixture, "with account holds off each job finds "
                                     "the limit itself") {
  auto first = queued("developer", "r");
  auto same = queued("analyst", "r");
  scheduler_settings s;
  s.max_concurrency = 1;
  s.account_holds = false;
  start(s);
  usage_limit(first);
  CHECK(runners->started == std::vector<int64_t>{first, same});
}

TEST_CASE_FIXTURE(scheduler_fixture, "cancel fails the job and kills its "
                                     "runner; a finished job is a conflict") {
  auto id = queued("developer", "r");
  scheduler_settings s;
  start(s);
  CHECK(test::unbox(ask<bool>(scheduler, atom::cancel_v, id)));
  run();
  CHECK(runners->killed[id] == "cancelled");
  CHECK(status(id) == "failed");
  CHECK(sql_value(*db, "SELECT error FROM jobs") == "cancelled");
  auto again = ask<bool>(scheduler, atom::cancel_v, id);
  REQUIRE_FALSE(again);
  CHECK(again.error() == ec::conflict);
  CHECK(test::unbox(ask<bool>(scheduler, atom::requeue_v, id)));
  CHECK(runners->started == std::vector<int64_t>{id, id});
}

TEST_CASE_FIXTURE(scheduler_fixture, "drain: no new claims, running agents "
                                     "get their time, then are stopped") {
  auto a = queued("developer", "r");
  auto b = queued("developer", "r");
  auto c = queued("developer", "r");
  scheduler_settings s;
  s.max_concurrency = 2;
  start(s);
  auto pending =
      self->request(scheduler, caf::infinite, atom::drain_v, int64_t{600});
  run();
  report(a, run_kind::success);
  // The freed slot is not used while draining.
  CHECK(runners->started == std::vector<int64_t>{a, b});
  CHECK(status(c) == "queued");
  CHECK(runners->killed.empty());
  sched.advance_time(std::chrono::seconds(600));
  run();
  CHECK(runners->killed[b] == "shutdown");
  CHECK(drained(pending) == 2);
  // Killed by the drain: back in the queue, not failed.
  CHECK(status(b) == "queued");
  CHECK(status(a) == "done");
}

TEST_CASE_FIXTURE(scheduler_fixture, "a second signal's kill that comes "
                                     "before the drain stops agents at once") {
  auto a = queued("developer", "r");
  scheduler_settings s;
  start(s);
  REQUIRE(runners->started == std::vector<int64_t>{a});
  // SIGTERM and SIGINT pending together: the kill wins the race.
  self->send(scheduler, atom::kill_v);
  run();
  CHECK(runners->killed.empty());
  auto pending =
      self->request(scheduler, caf::infinite, atom::drain_v, int64_t{600});
  run();
  CHECK(runners->killed[a] == "shutdown");
  CHECK(drained(pending) == 1);
  CHECK(status(a) == "queued");
}

TEST_CASE_FIXTURE(scheduler_fixture, "a runner that dies without reporting "
                                     "fails its run as a crash and frees "
                                     "its slot") {
  auto a = queued("developer", "r");
  auto b = queued("developer", "r");
  scheduler_settings s;
  s.max_concurrency = 1;
  start(s);
  REQUIRE(runners->started == std::vector<int64_t>{a});
  // As if the runner threw: it never reports.
  self->send_exit(runners->handles[a], caf::exit_reason::unhandled_exception);
  run();
  // Attempt 1 of 2 spent: back in the queue with the reason, and as the
  // oldest job it takes the freed slot again.
  CHECK(sql_value(*db, "SELECT error FROM jobs WHERE id = " + std::to_string(a))
            .find("the runner went down") == 0);
  CHECK(runners->started == std::vector<int64_t>{a, a});
  // Its second runner dies too: no attempts left, failed for good, and the
  // slot goes to the next job.
  self->send_exit(runners->handles[a], caf::exit_reason::kill);
  run();
  CHECK(status(a) == "failed");
  CHECK(runners->started == std::vector<int64_t>{a, a, b});
  CHECK(status(b) == "running");
}
