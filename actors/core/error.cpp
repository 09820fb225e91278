#include "actors/core/error.hpp"

#include <caf/message.hpp>

namespace orchd {

const char* to_string(ec x) {
  switch (x) {
  case ec::none:
    return "none";
  case ec::storage_failed:
    return "storage_failed";
  case ec::storage_unusable:
    return "storage_unusable";
  case ec::no_such_task:
    return "no_such_task";
  case ec::no_such_job:
    return "no_such_job";
  case ec::no_such_run:
    return "no_such_run";
  case ec::no_claimable_job:
    return "no_claimable_job";
  case ec::invalid_argument:
    return "invalid_argument";
  case ec::not_frozen:
    return "not_frozen";
  case ec::invalid_config:
    return "invalid_config";
  case ec::shutting_down:
    return "shutting_down";
  case ec::conflict:
    return "conflict";
  case ec::dependency_cycle:
    return "dependency_cycle";
  case ec::bad_signature:
    return "bad_signature";
  case ec::malformed_payload:
    return "malformed_payload";
  case ec::git_failed:
    return "git_failed";
  case ec::io_failed:
    return "io_failed";
  case ec::spawn_failed:
    return "spawn_failed";
  case ec::bind_failed:
    return "bind_failed";
  case ec::no_such_actor:
    return "no_such_actor";
  }
  return "<unknown>";
}

std::string describe(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return to_string(err);
}

} // namespace orchd
