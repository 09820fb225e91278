// The CI events actor under the deterministic scheduler, in front of a real
// storage actor: a CI result that names no branch is mapped to the repo's
// only task waiting for CI, else its only task in development, or left
// unresolved; either way it is handled.
#include "actors/intake/ci_events.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

const std::string status_failure =
    R"({"sha": "0123456789abcdef0123456789abcdef01234567",
  "state": "failure", "branches": [],
  "repository": {"full_name": "acme/widgets"}})";

struct ci_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage_actor store = storage::spawn_storage(sys, db, false);
  ci_events_actor ci;

  ci_fixture() {
    // No clone: the commit's branches cannot be asked; the stage decides.
    auto cfg = test::one_project_config(dir.file("no-clone"), dir.file("work"));
    ci = sys.spawn(ci_events, store, cfg, pipeline_actor{});
    run();
  }

  ~ci_fixture() { stop(ci, store); }

  int64_t task_in(task_stage stage, const std::string& plane_id, int64_t seq) {
    storage::store st{*db};
    work_item_request x;
    x.plane_id = plane_id;
    x.repo = "acme/widgets";
    x.prefix = "ET";
    x.sequence_id = seq;
    auto id = unbox(st.create_work_item(x)).task.id;
    unbox(st.set_stage(id, stage));
    return id;
  }

  int64_t task_in_development(const std::string& plane_id, int64_t seq) {
    return task_in(task_stage::development, plane_id, seq);
  }

  void deliver(const std::string& kind, const std::string& body,
               const std::string& delivery) {
    auto ack = unbox(ask<event_ack>(
        store, atom::record_v, event_record{"github", kind, body, delivery},
        ci_mapping{}));
    self->send(ci, atom::handle_v, ack.id, kind, body);
    run();
  }
};

} // namespace

TEST_CASE_FIXTURE(ci_fixture, "a result naming no branch goes to the repo's "
                              "only task in development") {
  auto id = task_in_development("p-1", 1);
  deliver("status", status_failure, "g-1");
  CHECK(sql_rows(*db, "SELECT task_id, ci_result, processed FROM events") ==
        std::to_string(id) + "|failure|1\n");
}

TEST_CASE_FIXTURE(ci_fixture, "a task waiting for CI comes before one in "
                              "development") {
  task_in_development("p-1", 1);
  auto waiting = task_in(task_stage::ci, "p-2", 2);
  deliver("status", status_failure, "g-1");
  CHECK(sql_rows(*db, "SELECT task_id, ci_result, processed FROM events") ==
        std::to_string(waiting) + "|failure|1\n");
}

TEST_CASE_FIXTURE(ci_fixture, "with several tasks in development the result "
                              "is left unresolved, and handled") {
  task_in_development("p-1", 1);
  task_in_development("p-2", 2);
  deliver("status", status_failure, "g-1");
  CHECK(sql_rows(*db, "SELECT task_id, ci_result, processed FROM events") ==
        "NULL|failure|1\n");
}

TEST_CASE_FIXTURE(ci_fixture, "an event that is no CI result, or cannot be "
                              "read, is handled without a task") {
  task_in_development("p-1", 1);
  deliver("push", R"({"repository": {"full_name": "acme/widgets"}})", "g-1");
  deliver("status", "{not json", "g-2");
  CHECK(sql_rows(*db, "SELECT task_id, processed FROM events ORDER BY id") ==
        "NULL|1\nNULL|1\n");
}
