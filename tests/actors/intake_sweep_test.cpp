// Intake's sweep of unhandled events, under the deterministic scheduler
// and its fake clock, in front of a real storage actor: at start-up every
// unhandled event is routed; then, periodically, those older than the
// grace (an event whose routing was lost waits no longer than that).
#include "actors/intake/intake.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::unbox;

namespace {

// A task creator that only notes which events reached it.
task_creator_actor noting_creator(caf::actor_system& sys,
                                  std::shared_ptr<std::vector<int64_t>> seen) {
  // `seen` is an argument: CAF 0.17 dereferences a null argument tuple when
  // a function is spawned without any.
  return sys.spawn(
      [](task_creator_actor::pointer,
         std::shared_ptr<std::vector<int64_t>> seen)
          -> task_creator_actor::behavior_type {
        return {
            [](atom::status) { return actor_status{"stand-in"}; },
            [seen](atom::handle, int64_t id, const std::string&) {
              seen->push_back(id);
            },
            [](atom::setup, int64_t, reply_to<task_row>&) {},
            [](atom::setup, int64_t) {},
        };
      },
      std::move(seen));
}

struct sweep_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage::store st{*db};
  storage_actor store;
  std::shared_ptr<std::vector<int64_t>> seen =
      std::make_shared<std::vector<int64_t>>();
  intake_actor in;

  sweep_fixture() {
    // Events recorded by a previous daemon's intake, never handled.
    for (auto id : {"d-1", "d-2"})
      unbox(st.add_event(event_record{"plane", "issue", "{}", id, false}));
    store = storage::spawn_storage(sys, db, false);
    intake_settings s;
    s.sweep_interval = std::chrono::seconds(60);
    s.sweep_grace_s = 3600;
    in = spawn_intake(sys, store, noting_creator(sys, seen), ci_events_actor{},
                      s);
    run();
  }

  ~sweep_fixture() { stop(in, store); }
};

} // namespace

TEST_CASE_FIXTURE(sweep_fixture, "at start-up every unhandled event is "
                                 "routed; later only those past the grace") {
  self->send(in, atom::sweep_v, int64_t{0});
  run();
  CHECK(*seen == std::vector<int64_t>{1, 2});
  // Event 1 was handled; event 2's routing was lost two hours ago.
  db->exec("UPDATE events SET processed = 1 WHERE id = 1");
  db->exec("UPDATE events SET timestamp = datetime('now', '-2 hours') "
           "WHERE id = 2");
  // A fresh unhandled event is within the grace: its routing may be on the
  // way, so the sweep leaves it.
  unbox(st.add_event(event_record{"plane", "issue", "{}", "d-3", false}));
  seen->clear();
  sched.advance_time(std::chrono::seconds(60));
  run();
  CHECK(*seen == std::vector<int64_t>{2});
  // And again at the next interval, while it stays unhandled.
  seen->clear();
  sched.advance_time(std::chrono::seconds(60));
  run();
  CHECK(*seen == std::vector<int64_t>{2});
}
