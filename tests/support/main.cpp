// The test runner: doctest's main, with orchd's log quiet unless asked for
// (ORCHD_TEST_LOG=debug|info|warn|error).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "actors/core/log.hpp"

#include <cstdlib>

int main(int argc, char** argv) {
  auto level = orchd::log::level::error;
  if (auto env = std::getenv("ORCHD_TEST_LOG"))
    orchd::log::parse_level(env, level);
  orchd::log::set_level(level);
  doctest::Context context{argc, argv};
  return context.run();
}
