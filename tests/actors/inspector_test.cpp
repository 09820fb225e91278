// The inspector under the deterministic scheduler and its fake clock: an
// actor that answers shows its count and state, a silent one shows
// "timeout" once its second is up (the request never hangs), one that quit
// shows "down" with why, and a runner is forgotten when it ends.
#include "actors/admin/inspector.hpp"

#include "actors/core/vitals.hpp"
#include "tests/support/test.hpp"

#include <caf/event_based_actor.hpp>

using namespace orchd;
using namespace std::chrono_literals;

namespace {

using probe_actor = caf::typed_actor<status_rpc, caf::reacts_to<int64_t>>;

struct probe_state {
  actor_vitals vitals;
  int64_t seen = 0;
};

// Counts the numbers it is sent; its state says how many. (Every spawned
// function takes an argument: CAF 0.17 dereferences a null argument tuple
// when one is spawned without any.)
probe_actor::behavior_type
probe(probe_actor::stateful_pointer<probe_state> self, int) {
  return counted(self->state.vitals,
                 probe_actor::behavior_type{
                     [self](atom::status) {
                       return status_of(
                           self, self->state.vitals, "probe",
                           "{\"seen\":" + std::to_string(self->state.seen) +
                               "}");
                     },
                     [self](int64_t n) { self->state.seen += n; },
                 });
}

// Takes the status request and never answers it.
caf::behavior silent(caf::event_based_actor* self, int) {
  return {
      [self](atom::status) -> caf::result<actor_status> {
        return self->make_response_promise<actor_status>();
      },
  };
}

struct inspector_fixture : test::actor_fixture {
  inspector_actor inspector = spawn_inspector(sys, 1000ms);

  ~inspector_fixture() { stop(inspector); }

  std::vector<actor_status> all() {
    auto pending = self->request(inspector, caf::infinite, atom::status_v);
    run();
    sched.advance_time(1001ms);
    run();
    std::vector<actor_status> out;
    pending.receive([&](std::vector<actor_status>& x) { out = std::move(x); },
                    [&](caf::error& err) { FAIL(describe(err)); });
    return out;
  }
};

} // namespace

TEST_CASE_FIXTURE(inspector_fixture, "inspector: ok, timeout and down") {
  auto p = sys.spawn(probe, 0);
  auto quiet = sys.spawn(silent, 0);
  auto quitter = sys.spawn(probe, 0);
  enroll(inspector, "probe", p);
  enroll(inspector, "quiet", quiet);
  enroll(inspector, "quitter", quitter);
  run();
  self->send(p, int64_t{2});
  self->send(p, int64_t{3});
  self->send_exit(quitter, caf::exit_reason::user_shutdown);
  run();
  auto xs = all();
  REQUIRE(xs.size() == 3);
  CHECK(xs[0].name == "probe");
  CHECK(xs[0].health == "ok");
  CHECK(xs[0].handled == 2); // the two numbers (not this request yet)
  CHECK(xs[0].state == "{\"seen\":5}");
  CHECK(xs[1].name == "quiet");
  CHECK(xs[1].health == "timeout");
  CHECK(xs[1].last_error == "no answer in time");
  CHECK(xs[2].name == "quitter");
  CHECK(xs[2].health == "down");
  CHECK_FALSE(xs[2].last_error.empty());
  stop(p, quiet);
}

TEST_CASE_FIXTURE(inspector_fixture, "inspector: one by name; runners leave") {
  auto p = sys.spawn(probe, 0);
  auto runner = sys.spawn(probe, 0);
  enroll(inspector, "probe", p);
  enroll(inspector, "runner/7", runner);
  run();
  auto one = ask<actor_status>(inspector, atom::status_v, std::string{"probe"});
  REQUIRE(one);
  CHECK(one->health == "ok");
  auto none = ask<actor_status>(inspector, atom::status_v, std::string{"x"});
  CHECK(none.error() == ec::no_such_actor);
  CHECK(all().size() == 2);
  self->send_exit(runner, caf::exit_reason::user_shutdown);
  run();
  auto xs = all();
  REQUIRE(xs.size() == 1);
  CHECK(xs[0].name == "probe");
  stop(p);
}
