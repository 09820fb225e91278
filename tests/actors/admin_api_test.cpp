// The admin API actor under the deterministic scheduler: typed answers for
// the operator's routes, in front of a real storage actor and freeze
// manager and a stand-in scheduler.
#include "actors/admin/admin_api.hpp"

#include "actors/engine/freeze_manager.hpp"
#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/stand_ins.hpp"
#include "tests/support/test.hpp"

#include <algorithm>

using namespace orchd;
using orchd::test::unbox;

namespace {

struct admin_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  storage_actor store = storage::spawn_storage(sys, db, false);
  std::shared_ptr<test::scheduler_log> scheduler_seen =
      std::make_shared<test::scheduler_log>();
  scheduler_actor scheduler = test::stand_in_scheduler(sys, scheduler_seen);
  freeze_manager_actor freezes =
      spawn_freeze_manager(sys, store, scheduler, std::chrono::seconds(5));
  admin_api_actor admin =
      spawn_admin_api(sys,
                      admin_backends{store, scheduler, freezes,
                                     task_creator_actor{}, tracker_actor{}},
                      std::chrono::seconds(5));

  admin_fixture() { run(); }

  ~admin_fixture() { stop(admin, freezes, scheduler, store); }

  // Sends a route's message with a reply_to<T> and answers what came back.
  template <class T, class... Ts>
  caf::expected<T> answer(Ts&&... xs) {
    caf::expected<T> out{caf::make_error(ec::none)};
    bool answered = false;
    self->send(admin, std::forward<Ts>(xs)...,
               reply_to<T>{[&](caf::expected<T> x) {
                 out = std::move(x);
                 answered = true;
               }});
    run();
    REQUIRE(answered);
    return out;
  }

  int64_t task(const std::string& plane_id) {
    return unbox(st.create_task(new_task{plane_id, "", "r", "", ""})).task.id;
  }

  int64_t job() {
    new_job j;
    j.agent = "developer";
    j.repo = "r";
    return unbox(st.enqueue(j));
  }
};

} // namespace

TEST_CASE_FIXTURE(admin_fixture, "a missing task or job is an error that "
                                 "says so") {
  CHECK(answer<task_row>(atom::task_by_id_v, int64_t{42}).error() ==
        ec::no_such_task);
  CHECK(answer<job_row>(atom::job_by_id_v, int64_t{42}).error() ==
        ec::no_such_job);
  auto id = task("p-1");
  CHECK(unbox(answer<task_row>(atom::task_by_id_v, id)).plane_id == "p-1");
  CHECK(unbox(answer<std::vector<active_task>>(atom::open_tasks_v)).size() ==
        1);
}

TEST_CASE_FIXTURE(admin_fixture, "the queue lists every running job, even "
                                 "one older than the newest twenty") {
  std::vector<int64_t> ids;
  for (int i = 0; i < 25; ++i)
    ids.push_back(job());
  // The oldest is claimed: it runs, and is not among the 20 newest.
  REQUIRE(unbox(st.claim_next_job({})).id == ids[0]);
  auto q = unbox(answer<queue_summary>(atom::queue_v));
  CHECK(q.counts.running == 1);
  CHECK(q.counts.queued == 24);
  REQUIRE(q.running.size() == 1);
  CHECK(q.running[0].id == ids[0]);
  CHECK(q.recent.size() == 20);
  CHECK(std::none_of(q.recent.begin(), q.recent.end(),
                     [&](const job_row& j) { return j.id == ids[0]; }));
}

TEST_CASE_FIXTURE(admin_fixture, "cancel and requeue go through the "
                                 "scheduler and answer the job as it is") {
  auto id = job();
  auto cancelled = unbox(answer<job_row>(atom::cancel_v, id));
  CHECK(cancelled.id == id);
  CHECK(scheduler_seen->cancelled == std::vector<int64_t>{id});
  unbox(answer<job_row>(atom::requeue_v, id));
  CHECK(scheduler_seen->requeued == std::vector<int64_t>{id});
}

TEST_CASE_FIXTURE(admin_fixture, "a dependency wakes the scheduler; a cycle "
                                 "is refused by name") {
  auto a = task("p-1");
  auto b = task("p-2");
  CHECK(unbox(answer<bool>(atom::add_dep_v, a, b)));
  CHECK(scheduler_seen->wakes == 1);
  auto cycle = answer<bool>(atom::add_dep_v, b, a);
  REQUIRE_FALSE(cycle);
  CHECK(cycle.error() == ec::dependency_cycle);
  CHECK(answer<bool>(atom::add_dep_v, a, int64_t{99}).error() ==
        ec::no_such_task);
}

TEST_CASE_FIXTURE(admin_fixture, "unfreezing a repo that is not frozen is an "
                                 "error; a frozen one is listed, then "
                                 "cleared") {
  CHECK(answer<int64_t>(atom::unfreeze_v, std::string{"r"}).error() ==
        ec::not_frozen);
  unbox(st.freeze_repo("r", "DEGRADED", "ET-1"));
  auto listed = unbox(answer<std::vector<freeze_row>>(atom::freezes_v));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].repo == "r");
  CHECK(unbox(answer<int64_t>(atom::unfreeze_v, std::string{"r"})) == 1);
  CHECK(scheduler_seen->wakes == 1);
}

TEST_CASE_FIXTURE(admin_fixture, "cancelling a task stops its running jobs "
                                 "through the scheduler") {
  auto t = task("p-1");
  new_job j;
  j.agent = "developer";
  j.repo = "r";
  j.task_id = t;
  auto id = unbox(st.enqueue(j));
  REQUIRE(unbox(st.claim_next_job({})).id == id);
  auto cancelled = unbox(answer<task_row>(atom::stop_task_v, t));
  CHECK(cancelled.stage == task_stage::cancelled);
  CHECK(scheduler_seen->cancelled == std::vector<int64_t>{id});
  CHECK(answer<task_row>(atom::stop_task_v, t).error() == ec::conflict);
}
