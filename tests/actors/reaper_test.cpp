// The reaper: each tier's decision, and sweeps under the deterministic
// coordinator against a real storage actor, including the race a runner
// wins.
#include "actors/engine/reaper.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/stand_ins.hpp"
#include "tests/support/test.hpp"

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sqlite3.h>

using namespace orchd;

using orchd::test::sql_value;

namespace {

running_job running(int64_t age, caf::optional<int64_t> exit_code = caf::none,
                    caf::optional<int64_t> finished_age = caf::none) {
  running_job r;
  r.job.id = 1;
  r.job.status = job_status::running;
  r.job.attempts = 1;
  r.job.max_attempts = 2;
  r.job.run_id = 3;
  r.running_age_s = age;
  r.exit_code = exit_code;
  r.finished_age_s = finished_age;
  return r;
}

reaper_settings settings() {
  reaper_settings s;
  s.finalise_grace_s = 120;
  s.backstop_s = 3600;
  return s;
}

} // namespace

TEST_CASE("a job owned by a runner is never reaped") {
  auto s = settings();
  CHECK(decide_reap(running(10), true, false, s) == reap_tier::none);
  CHECK(decide_reap(running(99999), true, false, s) == reap_tier::none);
  CHECK(decide_reap(running(500, 0, 400), true, false, s) == reap_tier::none);
}

TEST_CASE("tier 1: the agent is gone and nobody owns the job") {
  auto s = settings();
  CHECK(decide_reap(running(10), false, false, s) == reap_tier::lost);
  CHECK(decide_reap(running(10), false, true, s) == reap_tier::none);
}

TEST_CASE("tier 2: an exit recorded longer ago than the grace") {
  auto s = settings();
  CHECK(decide_reap(running(500, 0, 121), false, false, s) ==
        reap_tier::unfinalised);
  CHECK(decide_reap(running(500, 0, 60), false, false, s) == reap_tier::none);
}

TEST_CASE("tier 3: running past the backstop, alive or not") {
  auto s = settings();
  CHECK(decide_reap(running(3600), false, true, s) == reap_tier::backstop);
  CHECK(decide_reap(running(3599), false, true, s) == reap_tier::none);
}

TEST_CASE("tier 2 finalises from the run's recorded outcome") {
  retry_policy b{10, 600};
  auto r = running(500, 0, 200);
  r.run_outcome = run_kind::transient;
  r.run_error = "429";
  r.run_retry_after_s = 90;
  auto p = plan_from_run(r, b);
  REQUIRE(p.is_transient());
  CHECK(p.requeue().delay_s == 90);
  CHECK(p.requeue().expected_run_id == int64_t{3});
  r.run_outcome = run_kind::success;
  CHECK(plan_from_run(r, b).mark().status == job_status::done);
  // A run the Python system made: the exit code is all there is.
  r.run_outcome = caf::none;
  CHECK(plan_from_run(r, b).mark().status == job_status::done);
  r.exit_code = 2;
  auto crash = plan_from_run(r, b);
  CHECK(crash.mark().status == job_status::queued);
  CHECK(crash.mark().error == std::string{"agent exited with code 2"});
}

namespace {

struct reaper_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::string path = dir.file("o.db");
  std::shared_ptr<storage::database> db = test::open_db(path);
  storage_actor storage = storage::spawn_storage(sys, db, false);
  std::shared_ptr<test::scheduler_log> scheduler_seen =
      std::make_shared<test::scheduler_log>();
  std::vector<int64_t> killed;
  // Each reaper re-arms its timer: stopped explicitly at the end.
  std::vector<reaper_actor> reapers;

  // A running job with a begun run: (job id, run id).
  std::pair<int64_t, int64_t> running_job_with_run() {
    storage::store st{*db};
    new_job j;
    j.agent = "developer";
    j.repo = "r";
    auto id = test::unbox(st.enqueue(j));
    REQUIRE(test::unbox(st.claim_next_job({})).id == id);
    run_start start{id, new_run{caf::none, "developer", "", "", ""}, "/x"};
    return {id, test::unbox(st.begin_run(start))};
  }

  reaper_actor reaper(std::vector<int64_t> owned, process_probe probe) {
    auto s = settings();
    s.interval = std::chrono::seconds(30);
    scheduler_seen->owned = std::move(owned);
    auto r = spawn_reaper(sys, storage,
                          test::stand_in_scheduler(sys, scheduler_seen), s,
                          std::move(probe));
    reapers.push_back(r);
    run();
    return r;
  }

  process_probe dead_agents() {
    process_probe p;
    p.alive = [](const running_job&) {
      return false;
    };
    p.kill = [this](const running_job& r) {
      killed.push_back(r.job.id);
    };
    return p;
  }

  std::string job_state(int64_t id) {
    return sql_value(*db, "SELECT status, error FROM jobs WHERE id = " +
                              std::to_string(id));
  }

  ~reaper_fixture() {
    for (auto& r : reapers)
      caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
    run();
  }
};

// Writes through a connection of its own, as another actor's commit would.
void exec_elsewhere(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) ==
          SQLITE_OK);
  sqlite3_close(db);
}

} // namespace

TEST_CASE_FIXTURE(reaper_fixture, "a lost job is requeued and the scheduler "
                                  "woken; an owned one is left alone") {
  auto [lost, lost_run] = running_job_with_run();
  auto [owned, owned_run] = running_job_with_run();
  auto r = reaper({owned}, dead_agents());
  CHECK(test::unbox(ask<int64_t>(r, atom::reap_v)) == 1);
  CHECK(job_state(lost) == "queued|agent process gone and no runner owned it");
  CHECK(job_state(owned) == "running|NULL");
  CHECK(scheduler_seen->wakes == 1);
  // Its last attempt: failed instead.
  exec_elsewhere(path, "UPDATE jobs SET status = 'running', attempts = 2 "
                       "WHERE id = " +
                           std::to_string(lost));
  CHECK(test::unbox(ask<int64_t>(r, atom::reap_v)) == 1);
  CHECK(job_state(lost) == "failed|agent process gone and no runner owned it");
}

TEST_CASE_FIXTURE(reaper_fixture, "the reaper loses cleanly to a runner "
                                  "finishing at the same moment") {
  auto [id, run_id] = running_job_with_run();
  process_probe p = dead_agents();
  // Between the reaper's read and its write, the runner's finaliser
  // commits: the job is done and its next claim would run a new run.
  p.alive = [this, id = id](const running_job&) {
    exec_elsewhere(path, "UPDATE jobs SET status = 'done' WHERE id = " +
                             std::to_string(id));
    return false;
  };
  auto r = reaper({}, p);
  CHECK(test::unbox(ask<int64_t>(r, atom::reap_v)) == 0);
  CHECK(job_state(id) == "done|NULL");
  CHECK(scheduler_seen->wakes == 0);
}

TEST_CASE_FIXTURE(reaper_fixture, "tier 2 finalises a run that exited but "
                                  "was never finalised") {
  auto [id, run_id] = running_job_with_run();
  exec_elsewhere(path, "UPDATE agent_runs SET exit_code = 0, outcome = "
                       "'success', finished_at = datetime('now', '-300 "
                       "seconds') WHERE id = " +
                           std::to_string(run_id));
  auto r = reaper({}, dead_agents());
  CHECK(test::unbox(ask<int64_t>(r, atom::reap_v)) == 1);
  CHECK(job_state(id) == "done|NULL");
}

TEST_CASE_FIXTURE(reaper_fixture, "tier 3 kills and fails a job past the "
                                  "backstop") {
  auto [id, run_id] = running_job_with_run();
  exec_elsewhere(path, "UPDATE jobs SET started_at = datetime('now', "
                       "'-4000 seconds') WHERE id = " +
                           std::to_string(id));
  process_probe p = dead_agents();
  p.alive = [](const running_job&) {
    return true;
  };
  auto r = reaper({}, p);
  CHECK(test::unbox(ask<int64_t>(r, atom::reap_v)) == 1);
  CHECK(killed == std::vector<int64_t>{id});
  CHECK(job_state(id) == "failed|ran longer than the backstop (3600 s)");
}

TEST_CASE_FIXTURE(reaper_fixture, "the sweep repeats on its interval") {
  auto [id, run_id] = running_job_with_run();
  auto r = reaper({id}, dead_agents());
  CHECK(job_state(id) == "running|NULL");
  // No longer owned (its runner died): the next tick reaps it.
  caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  run();
  auto r2 = reaper({}, dead_agents());
  sched.advance_time(std::chrono::seconds(30));
  run();
  CHECK(job_state(id) == "queued|agent process gone and no runner owned it");
}
