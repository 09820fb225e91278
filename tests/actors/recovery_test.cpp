// Restart recovery against a real storage actor: what a dead daemon left
// running is finalised from its run's recorded end when there is one, and
// otherwise put back as an interruption that spends no attempt.
#include "actors/engine/recovery.hpp"

#include "actors/os/child_process.hpp"
#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <csignal>
#include <fstream>

using namespace orchd;
using orchd::test::sql_value;
using orchd::test::unbox;

namespace {

// recover_running_jobs blocks on storage's answers (it runs before the
// scheduler starts), so it runs on CAF's own scheduler here.
struct recovery_fixture {
  test::temp_dir dir;
  std::string path = dir.file("o.db");
  std::shared_ptr<storage::database> db = test::open_db(path);
  storage::store st{*db};
  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
  storage_actor storage =
      storage::spawn_storage(sys, test::open_db(path), false);
  retry_policy policy{10, 600, 3};

  static caf::actor_system_config& init(caf::actor_system_config& cfg) {
    register_types(cfg);
    return cfg;
  }

  ~recovery_fixture() {
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
  }

  // A job claimed and running its run, as a dead daemon left it.
  std::pair<int64_t, int64_t> running_job() {
    new_job j;
    j.agent = "developer";
    j.repo = "r";
    auto id = unbox(st.enqueue(j));
    REQUIRE(unbox(st.claim_next_job({})).id == id);
    run_start start{id, new_run{caf::none, "developer", "", "", ""},
                    dir.file("")};
    return {id, unbox(st.begin_run(start))};
  }

  void run_ended(int64_t run, run_kind kind, int64_t exit_code) {
    run_outcome out;
    out.run_id = run;
    out.exit_code = exit_code;
    out.outcome = kind;
    unbox(st.finish_run(out));
  }

  recovery_counts recover() {
    recovery_settings s;
    s.instance = "recovery-test";
    s.policy = policy;
    s.agent_programs = {"/usr/local/bin/claude"};
    s.kill_grace_ms = 2000;
    return unbox(recover_running_jobs(sys, storage, s));
  }

  std::string job(int64_t id, const std::string& columns) {
    return sql_value(*db, "SELECT " + columns +
                              " FROM jobs WHERE id = " + std::to_string(id));
  }
};

} // namespace

TEST_CASE_FIXTURE(recovery_fixture, "a run that recorded success before the "
                                    "daemon died is finalised, never run "
                                    "again") {
  auto [id, run] = running_job();
  run_ended(run, run_kind::success, 0);
  auto counts = recover();
  CHECK(counts.finalised == 1);
  CHECK(counts.requeued == 0);
  CHECK(job(id, "status") == "done");
  CHECK(sql_value(*db, "SELECT COUNT(*) FROM agent_runs") == "1");
}

TEST_CASE_FIXTURE(recovery_fixture, "a result the agent printed to its log "
                                    "before the daemon died finishes the "
                                    "run; a cut-off one does not") {
  auto [printed, run1] = running_job();
  auto [cut, run2] = running_job();
  auto log_of = [&](int64_t run) {
    return std::ofstream{dir.file(std::to_string(run) + ".log")};
  };
  log_of(run1) << "some noise on stderr\n"
               << R"({"type":"result","subtype":"success","is_error":false,)"
               << R"("result":"ok","usage":{"input_tokens":7,)"
               << R"("output_tokens":9}})"
               << "\n";
  log_of(run2) << R"({"type":"result","subtype":"success","is_e)";
  auto counts = recover();
  CHECK(counts.finalised == 1);
  CHECK(counts.requeued == 1);
  CHECK(job(printed, "status, attempts") == "done|1");
  CHECK(sql_value(*db, "SELECT outcome, input_tokens, output_tokens FROM "
                       "agent_runs WHERE id = " +
                           std::to_string(run1)) == "success|7|9");
  CHECK(job(cut, "status, attempts, interruptions") == "queued|0|1");
}

TEST_CASE_FIXTURE(recovery_fixture, "a recorded transient failure backs off; "
                                    "a recorded fault spends its attempt") {
  auto [limited, run1] = running_job();
  run_ended(run1, run_kind::transient, 1);
  auto [faulty, run2] = running_job();
  run_ended(run2, run_kind::fault, 1);
  CHECK(recover().finalised == 2);
  CHECK(job(limited, "status, attempts, transient_attempts") == "queued|0|1");
  CHECK(job(faulty, "status, attempts") == "queued|1");
}

TEST_CASE_FIXTURE(recovery_fixture, "a run the restart cut off is an "
                                    "interruption: the attempt is given "
                                    "back, the last one allowed fails it") {
  auto [id, run] = running_job();
  auto counts = recover();
  CHECK(counts.requeued == 1);
  CHECK(job(id, "status, attempts, interruptions, error") ==
        "queued|0|1|the daemon restarted while the agent ran");
  CHECK(sql_value(*db, "SELECT outcome FROM agent_runs WHERE id = " +
                           std::to_string(run)) == "shutdown");
  // The same job takes the daemon down every time (here before its run
  // even begins): bounded.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(unbox(st.claim_next_job({})).id == id);
    recover();
  }
  CHECK(job(id, "status, interruptions") == "failed|3");
  CHECK(job(id, "error").find("interrupted by orchd 3 times") == 0);
}

TEST_CASE_FIXTURE(recovery_fixture, "at cutover, a live agent the Python "
                                    "orchestrator left is stopped before its "
                                    "job is requeued; a reused pid is not") {
  // Two legacy running jobs with a recorded pid and no run of orchd's.
  new_job j;
  j.agent = "developer";
  j.repo = "r";
  auto agent_job = unbox(st.enqueue(j));
  auto reused_job = unbox(st.enqueue(j));
  REQUIRE(unbox(st.claim_next_job({})).id == agent_job);
  REQUIRE(unbox(st.claim_next_job({})).id == reused_job);
  test::child_process agent{
      "/usr/bin/env",
      {"ORCHD_JOB_ID=" + std::to_string(agent_job), "sleep", "300"},
      dir.path().string()};
  test::child_process bystander{"/bin/sleep", {"300"}, dir.path().string()};
  REQUIRE(test::eventually(
      [&] { return looks_like_agent(agent.pid(), agent_job, {}); }));
  db->exec(("UPDATE jobs SET pid = " + std::to_string(agent.pid()) +
            " WHERE id = " + std::to_string(agent_job))
               .c_str());
  db->exec(("UPDATE jobs SET pid = " + std::to_string(bystander.pid()) +
            " WHERE id = " + std::to_string(reused_job))
               .c_str());
  CHECK(recover().requeued == 2);
  CHECK(test::eventually([&] { return !process_alive(agent.pid()); }));
  CHECK(agent.wait_exit() == 128 + SIGTERM);
  CHECK(process_alive(bystander.pid()));
  CHECK(job(agent_job, "status") == "queued");
  CHECK(job(reused_job, "status") == "queued");
}
