// One daemon per database: the lock file beside it.
#include "actors/os/instance_lock.hpp"

#include "tests/support/test.hpp"

#include <unistd.h>

using namespace orchd;

TEST_CASE("the lock is exclusive, names its holder, and frees with it") {
  test::temp_dir dir;
  auto db = dir.file("data/o.db");
  auto first = test::unbox(instance_lock::acquire(db));
  CHECK(first->path() == db + ".lock");
  auto second = instance_lock::acquire(db);
  REQUIRE_FALSE(second);
  CHECK(second.error() == ec::storage_unusable);
  CHECK(describe(second.error()) == db + " is in use by another orchd (pid " +
                                        std::to_string(getpid()) +
                                        "); its lock is " + db + ".lock");
  first.reset();
  CHECK(instance_lock::acquire(db));
}
