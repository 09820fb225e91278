// The supervisor under the deterministic coordinator: an actor that dies
// while the daemon runs stops it; downs while it stops are expected.
#include "actors/daemon/supervisor.hpp"

#include "tests/support/test.hpp"

#include <caf/event_based_actor.hpp>

using namespace orchd;

namespace {

// Takes an argument: CAF 0.17 dereferences a null argument tuple when a
// function is spawned without any.
caf::behavior idle(caf::event_based_actor*, int) {
  return {[](int) {
  }};
}

struct supervisor_fixture : test::actor_fixture {
  std::vector<std::pair<std::string, std::string>> fatal;
  caf::actor a = sys.spawn(idle, 0);
  caf::actor b = sys.spawn(idle, 0);
  supervisor_actor sup = spawn_supervisor(
      sys, {a, b}, [this](const std::string& name, const std::string& why) {
        fatal.emplace_back(name, why);
      });

  supervisor_fixture() { run(); }

  ~supervisor_fixture() { stop(a, b, sup); }
};

} // namespace

TEST_CASE_FIXTURE(supervisor_fixture, "an actor that dies while the daemon "
                                      "runs stops it, once") {
  self->send_exit(a, caf::exit_reason::unhandled_exception);
  run();
  REQUIRE(fatal.size() == 1);
  CHECK(fatal[0].second.find("unhandled_exception") != std::string::npos);
  self->send_exit(b, caf::exit_reason::kill);
  run();
  CHECK(fatal.size() == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "downs while the daemon stops are "
                                      "expected") {
  self->send(sup, atom::shutdown_v);
  run();
  self->send_exit(a, caf::exit_reason::user_shutdown);
  self->send_exit(b, caf::exit_reason::kill);
  run();
  CHECK(fatal.empty());
}
