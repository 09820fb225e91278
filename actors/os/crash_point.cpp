#include "actors/os/crash_point.hpp"

#include "actors/core/log.hpp"

#include <csignal>
#include <cstdlib>
#include <string>

namespace orchd {

void crash_point(const char* point) {
  static const std::string armed = [] {
    auto value = std::getenv("ORCHD_CRASH_AT");
    return std::string{value ? value : ""};
  }();
  if (armed.empty() || armed != point)
    return;
  log::warn("crash point ", point, ": killing the daemon (ORCHD_CRASH_AT)");
  ::raise(SIGKILL);
}

} // namespace orchd
