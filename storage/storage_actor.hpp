// The storage actor: the only owner of the SQLite connection, with group
// commit (shared/DESIGN.md section 2).
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/vitals.hpp"
#include "storage/backup.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <memory>
#include <vector>

namespace orchd::storage {

class database;
class store;

/// A reply held back until its batch commits: `deliver` on success, `fail`
/// when the batch is rolled back. One allocation per request.
class pending_reply {
public:
  virtual ~pending_reply() = default;
  virtual void deliver() = 0;
  virtual void fail(const caf::error& err) = 0;
};

struct storage_state {
  static inline const char* name = "orchd.storage";
  /// Messages handled (the inspector's count).
  actor_vitals vitals;

  std::shared_ptr<database> db;
  std::unique_ptr<store> data;
  /// The open batch's replies, in arrival order.
  std::vector<std::unique_ptr<pending_reply>> batch;
  storage_stats stats;
  /// The last commit: when (unix seconds), how long it took; requests
  /// answered by all commits (the mean batch is this over commits).
  int64_t last_commit_at = 0;
  double last_commit_s = 0;
  int64_t requests_committed = 0;
  /// Writes handled since the last flush message was queued.
  size_t arrivals_since_flush = 0;
  /// Writes have failed since the last commit (disk full, I/O error), and
  /// how many: logged once when it starts and once when it ends, not per
  /// request.
  bool writes_failing = false;
  int64_t failed_writes = 0;
  /// The running online backup (one at a time) and its caller.
  std::unique_ptr<online_backup> backup;
  caf::typed_response_promise<backup_result> backup_reply;

  /// Notes a failed write (a request's statements or a commit).
  void write_failed(const std::string& what);

  /// Commits the open transaction, then answers every request of the batch
  /// (or, if the commit fails, rolls back and fails them all).
  void flush();

  /// Answers every request of the batch with `err`.
  void fail_batch(const caf::error& err);
};

using storage_pointer = storage_actor::stateful_pointer<storage_state>;

/// Its counters, batches, file sizes and schema level, as JSON
/// (storage_status.cpp).
std::string status_summary(const storage_state& st);

/// The storage actor's behavior over an open, migrated database. `holds`
/// decides a claim's budget hold (none: jobs are never held for budget).
storage_actor::behavior_type
storage(storage_pointer self, std::shared_ptr<database> db, hold_rule holds);

/// Spawns the storage actor. `detached` gives it its own thread so an fsync
/// never stalls the threads the other actors share (tests pass false to
/// run it under the deterministic scheduler).
storage_actor spawn_storage(caf::actor_system& sys,
                            std::shared_ptr<database> db, bool detached,
                            hold_rule holds = {});

} // namespace orchd::storage
