// The storage actor under the deterministic scheduler: group commit, replies
// only after the commit, failed commits and full disks, shutdown.
#include "storage/storage_actor.hpp"

#include "storage/database.hpp"
#include "tests/support/test.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <sqlite3.h>

using namespace orchd;

namespace {

// Counts rows through a connection of its own: what is durable on disk,
// not what the actor's open transaction sees.
int64_t committed_rows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
          SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  auto sql = "SELECT COUNT(*) FROM " + table;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  auto n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

event_record event(int i, const std::string& source = "github") {
  return event_record{source, "check_run", "{\"n\":" + std::to_string(i) + "}",
                      "delivery-" + std::to_string(i)};
}

struct storage_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::string path = dir.file("o.db");
  storage_actor store = storage::spawn_storage(sys, test::open_db(path), false);

  storage_fixture() {
    run(); // the actor initialises its state when it first runs
  }

  storage::storage_state& state() {
    auto ptr = caf::actor_cast<caf::abstract_actor*>(store);
    using impl =
        caf::stateful_actor<storage::storage_state, storage_actor::base>;
    return dynamic_cast<impl&>(*ptr).state;
  }

  storage_stats unbox_stats() {
    return test::unbox(ask<storage_stats>(store, atom::stats_v));
  }

  ~storage_fixture() {
    self->send_exit(store, caf::exit_reason::user_shutdown);
    run();
  }
};

// A requester that sends `n` event inserts at once and counts the replies.
struct client_state {
  int acked = 0;
  int failed = 0;
  static inline const char* name = "test.client";
};

caf::behavior client(caf::stateful_actor<client_state>* self,
                     storage_actor store, int first, int n,
                     std::shared_ptr<int> acked) {
  for (int i = first; i < first + n; ++i)
    self->request(store, caf::infinite, atom::record_v, event(i), ci_mapping{})
        .then([=](const event_ack& ack) { *acked += ack.created ? 1 : 0; },
              [](const caf::error& err) { FAIL(describe(err)); });
  return {};
}

} // namespace

TEST_CASE_FIXTURE(storage_fixture, "concurrent writers share one commit") {
  auto acked = std::make_shared<int>(0);
  for (int c = 0; c < 20; ++c)
    sys.spawn(client, store, c * 5, 5, acked);
  run();
  CHECK(*acked == 100);
  auto stats = unbox_stats();
  CHECK(stats.writes == 100);
  CHECK(stats.commits == 1);
  CHECK(stats.largest_batch == 100);
  CHECK(committed_rows(path, "events") == 100);
}

TEST_CASE_FIXTURE(storage_fixture, "a reply is sent only after its commit") {
  auto pending = self->request(store, caf::infinite, atom::record_v, event(1),
                               ci_mapping{});
  // Let the storage actor handle the insert but not its flush.
  sched.run_once();
  CHECK(state().batch.size() == 1);
  CHECK(committed_rows(path, "events") == 0);
  run();
  bool created = false;
  pending.receive([&](event_ack& ack) { created = ack.created; },
                  [&](caf::error& err) { FAIL(describe(err)); });
  CHECK(created);
  CHECK(committed_rows(path, "events") == 1);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "a duplicate delivery is acknowledged as such") {
  CHECK(
      test::unbox(ask<event_ack>(store, atom::record_v, event(7), ci_mapping{}))
          .created);
  CHECK_FALSE(
      test::unbox(ask<event_ack>(store, atom::record_v, event(7), ci_mapping{}))
          .created);
  CHECK(committed_rows(path, "events") == 1);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "a failing commit fails the whole batch and stores nothing") {
  // SQLite turns COMMIT into a rollback when the commit hook refuses it.
  sqlite3_commit_hook(
      state().db->handle(), [](void*) { return 1; }, nullptr);
  auto first = self->request(store, caf::infinite, atom::record_v, event(1),
                             ci_mapping{});
  auto second = self->request(store, caf::infinite, atom::record_v, event(2),
                              ci_mapping{});
  auto job = self->request(store, caf::infinite, atom::enqueue_v,
                           new_job{"developer", "r", caf::none, "x", 2, 0});
  auto read = self->request(store, caf::infinite, atom::job_counts_v);
  run();
  int failures = 0;
  auto expect_failure = [&](caf::error& err) {
    CHECK(err == ec::storage_failed);
    ++failures;
  };
  first.receive([](event_ack&) { FAIL("stored"); }, expect_failure);
  second.receive([](event_ack&) { FAIL("stored"); }, expect_failure);
  job.receive([](int64_t) { FAIL("stored"); }, expect_failure);
  // The read saw the uncommitted job, so it fails with the batch too.
  read.receive([](job_counts&) { FAIL("answered"); }, expect_failure);
  CHECK(failures == 4);
  CHECK(committed_rows(path, "events") == 0);
  CHECK(committed_rows(path, "jobs") == 0);
  CHECK(unbox_stats().failed_commits == 1);
  // The cause is gone: the actor serves again.
  sqlite3_commit_hook(state().db->handle(), nullptr, nullptr);
  CHECK(
      test::unbox(ask<event_ack>(store, atom::record_v, event(1), ci_mapping{}))
          .created);
  CHECK(committed_rows(path, "events") == 1);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "a full disk fails the writes and the actor recovers") {
  CHECK(
      test::unbox(ask<event_ack>(store, atom::record_v, event(0), ci_mapping{}))
          .created);
  auto& db = *state().db;
  auto pages = db.pragma_int("page_count");
  db.exec(("PRAGMA max_page_count = " + std::to_string(pages)).c_str());
  std::string big(64 * 1024, 'x');
  auto a =
      self->request(store, caf::infinite, atom::record_v,
                    event_record{"github", "push", big, "big-1"}, ci_mapping{});
  auto b =
      self->request(store, caf::infinite, atom::record_v,
                    event_record{"github", "push", big, "big-2"}, ci_mapping{});
  run();
  for (auto* h : {&a, &b})
    h->receive([](event_ack&) { FAIL("stored"); },
               [](caf::error& err) { CHECK(err == ec::storage_failed); });
  CHECK(committed_rows(path, "events") == 1);
  db.exec("PRAGMA max_page_count = 1073741823");
  CHECK(test::unbox(ask<event_ack>(store, atom::record_v,
                                   event_record{"github", "push", big, "big-1"},
                                   ci_mapping{}))
            .created);
  CHECK(committed_rows(path, "events") == 2);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "a failed request leaves its batch-mates stored") {
  state().db->exec("CREATE TEMP TRIGGER refuse_bad BEFORE INSERT ON events "
                   "WHEN NEW.source = 'bad' BEGIN "
                   "SELECT RAISE(ABORT, 'refused by test'); END");
  auto good1 = self->request(store, caf::infinite, atom::record_v, event(1),
                             ci_mapping{});
  auto bad = self->request(store, caf::infinite, atom::record_v,
                           event(2, "bad"), ci_mapping{});
  auto good2 = self->request(store, caf::infinite, atom::record_v, event(3),
                             ci_mapping{});
  run();
  int stored = 0;
  for (auto* h : {&good1, &good2})
    h->receive([&](event_ack& ack) { stored += ack.created; },
               [](caf::error& err) { FAIL(describe(err)); });
  bad.receive([](event_ack&) { FAIL("stored"); },
              [](caf::error& err) { CHECK(err == ec::storage_failed); });
  CHECK(stored == 2);
  CHECK(committed_rows(path, "events") == 2);
  CHECK(unbox_stats().commits == 1);
}

TEST_CASE_FIXTURE(storage_fixture, "errors of a lookup reach the caller") {
  auto missing = ask<task_row>(store, atom::task_by_id_v, int64_t{42});
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::no_such_task);
  auto claim = ask<job_row>(store, atom::claim_v, claim_options{});
  REQUIRE_FALSE(claim);
  CHECK(claim.error() == ec::no_claimable_job);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "task creation through the actor happens once") {
  work_item_request x;
  x.plane_id = "plane-1";
  x.repo = "acme/widgets";
  x.prefix = "ET";
  x.sequence_id = 1;
  x.title = "T";
  std::vector<decltype(self->request(store, caf::infinite, atom::make_task_v,
                                     x))>
      replies;
  for (int i = 0; i < 50; ++i)
    replies.push_back(
        self->request(store, caf::infinite, atom::make_task_v, x));
  run();
  int created = 0;
  for (auto& r : replies)
    r.receive([&](task_claim& c) { created += c.created ? 1 : 0; },
              [](caf::error& err) { FAIL(describe(err)); });
  CHECK(created == 1);
  CHECK(committed_rows(path, "tasks") == 1);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "shutdown commits the open batch, then the actor is gone") {
  auto write = self->request(store, caf::infinite, atom::record_v, event(1),
                             ci_mapping{});
  auto stop = self->request(store, caf::infinite, atom::shutdown_v);
  run();
  write.receive([](event_ack& ack) { CHECK(ack.created); },
                [](caf::error& err) { FAIL(describe(err)); });
  stop.receive([](bool ok) { CHECK(ok); },
               [](caf::error& err) { FAIL(describe(err)); });
  CHECK(committed_rows(path, "events") == 1);
  auto after = ask<event_ack>(store, atom::record_v, event(2), ci_mapping{});
  CHECK_FALSE(after);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "a pipeline transition through the actor: one write, "
                  "guarded on its stage") {
  work_item_request x;
  x.plane_id = "plane-1";
  x.repo = "acme/widgets";
  x.prefix = "ET";
  x.sequence_id = 42;
  x.title = "T";
  x.first_agent = "analyst";
  x.first_content = "Add retries";
  auto task = test::unbox(ask<task_claim>(store, atom::make_task_v, x)).task;
  using a = stage_action;
  std::vector<stage_action> approve{
      {a::stamp_brd_end},
      {a::set_stage, task_stage::architecture},
      {a::enqueue, task_stage::unknown, "architect", "Mind the 429s"}};
  auto first = test::unbox(ask<applied_transition>(
      store, atom::transition_v, task.id, task_stage::created, approve));
  CHECK(first.applied);
  CHECK(first.enqueued.size() == 1);
  // Decided on the same stale view: nothing more is written.
  auto second = test::unbox(ask<applied_transition>(
      store, atom::transition_v, task.id, task_stage::created, approve));
  CHECK_FALSE(second.applied);
  CHECK(committed_rows(path, "jobs") == 2);
  CHECK(committed_rows(path, "stage_history") == 1);
  auto state =
      test::unbox(ask<task_pipeline>(store, atom::pipeline_v, task.id));
  REQUIRE(state.history.size() == 1);
  CHECK(state.history[0].rfind("created>architecture@", 0) == 0);
  auto missing = ask<task_pipeline>(store, atom::pipeline_v, int64_t{99});
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ec::no_such_task);
}

TEST_CASE_FIXTURE(storage_fixture,
                  "an online backup: writes go on between its steps, a second "
                  "one is refused while it runs, the copy holds every commit") {
  // About 4 MB: more pages than one step copies.
  for (int i = 0; i < 2000; ++i) {
    auto big = event(i);
    big.payload = "{\"pad\":\"" + std::string(2000, 'x') + "\"}";
    self->send(store, atom::record_v, big, ci_mapping{});
  }
  run();
  auto copy = dir.file("copy.db");
  auto first = self->request(store, caf::infinite, atom::backup_v, copy);
  auto second =
      self->request(store, caf::infinite, atom::backup_v, dir.file("b.db"));
  // Writes that arrive while the copy is being made: committed, and in it.
  for (int i = 2000; i < 2100; ++i)
    self->send(store, atom::record_v, event(i), ci_mapping{});
  run();
  backup_result r;
  first.receive([&](backup_result& x) { r = std::move(x); },
                [](caf::error& err) { FAIL(to_string(err)); });
  second.receive([](backup_result&) { FAIL("two backups at once"); },
                 [](caf::error& err) { CHECK(err == ec::conflict); });
  CHECK(r.path == copy);
  CHECK(r.pages > 256); // more than one step
  CHECK(committed_rows(copy, "events") == 2100);
  auto db = test::open_db(copy);
  CHECK(test::sql_rows(*db, "PRAGMA integrity_check") == "ok\n");
  // A path that exists is refused; the file is untouched.
  CHECK(ask<backup_result>(store, atom::backup_v, copy).error() ==
        ec::conflict);
  CHECK(ask<backup_result>(store, atom::backup_v, std::string{"rel.db"})
            .error() == ec::invalid_argument);
}
