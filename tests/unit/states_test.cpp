// The domain states and their legacy text: one mapping, both ways.
#include "actors/core/states.hpp"

#include "storage/store.hpp"
#include "tests/support/test.hpp"

#include <string>

using namespace orchd;

TEST_CASE("job statuses round-trip through their legacy text") {
  for (auto s : all_job_statuses)
    CHECK(parse_job_status(to_string(s)) == s);
  CHECK(std::string{to_string(job_status::queued)} == "queued");
  CHECK_FALSE(parse_job_status("exploded"));
  CHECK_FALSE(parse_job_status(""));
}

TEST_CASE("run kinds round-trip; a Python run has none") {
  for (auto k : {run_kind::success, run_kind::transient, run_kind::fault,
                 run_kind::crash, run_kind::timeout, run_kind::cancelled,
                 run_kind::shutdown})
    CHECK(parse_run_kind(to_string(k)) == k);
  CHECK_FALSE(parse_run_kind(""));
  CHECK_FALSE(parse_run_kind("weird"));
}

TEST_CASE("stages round-trip; text orchd does not know reads as unknown") {
  for (auto s :
       {task_stage::created, task_stage::setup_failed, task_stage::analysis,
        task_stage::architecture, task_stage::development, task_stage::ci,
        task_stage::review, task_stage::deploy, task_stage::verification,
        task_stage::done, task_stage::cancelled})
    CHECK(parse_task_stage(to_string(s)) == s);
  CHECK(parse_task_stage("qa-signoff") == task_stage::unknown);
}

TEST_CASE("a legacy row's stage reads as it is stored, and unknown is "
          "never written") {
  test::temp_dir dir;
  auto db = test::open_db(dir.file("o.db"));
  db->exec("INSERT INTO tasks (repo, stage) VALUES ('r', 'qa-signoff')");
  storage::store st{*db};
  auto t = test::unbox(st.task_by_id(1));
  CHECK(t.stage == task_stage::unknown);
  auto refused = st.set_stage(1, task_stage::unknown);
  REQUIRE_FALSE(refused);
  CHECK(refused.error() == ec::invalid_argument);
  // Nothing was changed.
  CHECK(test::sql_value(*db, "SELECT stage FROM tasks") == "qa-signoff");
  CHECK(test::unbox(st.set_stage(1, task_stage::review)));
  CHECK(test::sql_value(*db, "SELECT stage FROM tasks") == "review");
}
