// The one error enum of orchd (category "orchd").
#pragma once

#include <caf/error.hpp>

#include <cstdint>
#include <string>

namespace orchd {

/// Every error orchd reports between actors and to its callers.
enum class ec : uint8_t {
  /// Not an error.
  none = 0,
  /// A storage write or commit failed; nothing of the request was stored.
  /// HTTP maps it to 503: the caller retries.
  storage_failed,
  /// The database could not be opened, is corrupt or is of an unknown schema.
  storage_unusable,
  /// No task matches the lookup.
  no_such_task,
  /// No job matches the lookup.
  no_such_job,
  /// No agent run matches the lookup.
  no_such_run,
  /// No job is claimable right now.
  no_claimable_job,
  /// A request's arguments were refused (bad status, self-edge, ...).
  invalid_argument,
  /// The repo has no active freeze.
  not_frozen,
  /// The configuration is invalid.
  invalid_config,
  /// The actor is shutting down and takes no new work.
  shutting_down,
  /// The request conflicts with the row's state (cancelling a finished
  /// job, requeueing one that has not failed). HTTP: 409.
  conflict,
  /// A dependency edge would close a cycle (or is a self-edge). HTTP: 409.
  dependency_cycle,
  /// A webhook's signature is missing or does not match, or no secret is
  /// configured for its source. HTTP: 401.
  bad_signature,
  /// A webhook body or request body is not what its route takes (invalid
  /// JSON, missing field, bad header). HTTP: 400.
  malformed_payload,
  /// A git command failed or could not be run.
  git_failed,
  /// A file or folder could not be read, written or made.
  io_failed,
  /// A child process could not be started.
  spawn_failed,
  /// The listening socket could not be opened, bound or listened on.
  bind_failed,
  /// No actor is registered with the inspector under that name.
  no_such_actor,
};

/// The enum value's name, e.g. "storage_failed".
const char* to_string(ec x);

/// A human-readable line for any error: the context text when it is one
/// string (as orchd's errors are), else CAF's rendering of it.
std::string describe(const caf::error& err);

} // namespace orchd

CAF_ERROR_CODE_ENUM(orchd::ec, "orchd")
