// Shared test helpers: temp folders, a database opener, and the
// deterministic actor fixture (CAF's test coordinator, fake clock).
#pragma once

#include <doctest/doctest.h>

#include "actors/core/actors.hpp"
#include "actors/core/error.hpp"
#include "actors/logic/config.hpp"
#include "storage/database.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace orchd::test {

/// A fresh folder, removed with everything in it when the test ends.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  /// A path inside the folder.
  std::string file(const std::string& name) const {
    return (path_ / name).string();
  }

private:
  std::filesystem::path path_;
};

/// The value of `x`; fails the test with the error otherwise.
template <class T>
T unbox(caf::expected<T> x) {
  if (!x)
    FAIL("unexpected error: " << describe(x.error()));
  return std::move(*x);
}

/// Asks `holds` every 10 ms until it answers true (true) or `limit` passes
/// (false): for state that announces nothing (a row, a file, a process
/// gone) changed by another thread or process.
bool eventually(const std::function<bool()>& holds,
                std::chrono::seconds limit = std::chrono::seconds(30));

/// The embedded defaults with one project, acme/widgets (prefix ET, the
/// Plane project of the recorded samples), cloned from `clone_path`, its
/// worktrees under `workspace_root`.
config one_project_config(const std::string& clone_path,
                          const std::string& workspace_root);

/// The bytes of a recorded sample in tests/fixtures.
std::string read_fixture(const std::string& name);

/// Opens (and migrates) a database file, failing the test on an error.
std::shared_ptr<storage::database> open_db(const std::string& path,
                                           const std::string& sync = "full");

/// The result of one SQL query as text: rows by newline, columns by '|'.
std::string sql_rows(storage::database& db, const std::string& sql);

/// One row of a query (columns by '|'), without the row's newline.
std::string sql_value(storage::database& db, const std::string& sql);

/// Actors under the deterministic test coordinator. Time moves only when a
/// test advances it.
struct actor_fixture {
  static caf::actor_system_config& init(caf::actor_system_config& cfg);

  actor_fixture();
  ~actor_fixture();

  /// Runs every pending message, without moving the clock.
  void run();

  /// Stops each actor (as the daemon does at shutdown) and runs what that
  /// leaves to do.
  template <class... Handles>
  void stop(const Handles&... hs) {
    (self->send_exit(hs, caf::exit_reason::user_shutdown), ...);
    run();
  }

  /// Sends a request, runs the system, and returns the reply or error.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& hdl, Ts&&... xs) {
    auto pending = self->request(hdl, caf::infinite, std::forward<Ts>(xs)...);
    run();
    caf::expected<T> result{caf::make_error(ec::none)};
    pending.receive([&](T& x) { result = std::move(x); },
                    [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
};

} // namespace orchd::test
