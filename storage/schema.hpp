// The Python orchestrator's schema, level by level (shared/LEGACY.md), and
// the idempotent migrations that bring any level up to date.
#pragma once

#include <caf/error.hpp>

#include <cstdint>

namespace orchd::storage {

class database;

namespace schema {

/// Level 1 is the legacy file's four original tables; each later step of
/// LEGACY.md adds one level (up to 9). Level 10 is orchd's first addition:
/// `orchd_meta`, whose `replay_from_event_id` keeps orchd from replaying
/// events the Python system left unprocessed, and on `events` the task, the
/// branch and the normalised result (success, failure, pending) of a CI
/// event. Level 11 adds to `agent_runs` the job a run served and its
/// classified outcome (outcome, error, retry_after_s), so a job can be
/// finalised from its run alone. Level 12 indexes `tasks` by Plane id, by
/// (repo, branch) and by (repo, stage). orchd keeps the level in `PRAGMA
/// user_version`.
inline constexpr int64_t latest_version = 17;

/// The level of a file from its tables and columns: 0 for an empty file,
/// else the last step whose tables, columns and indexes all exist in order.
int64_t detect_level(database& db);

/// Refuses a file whose `user_version` is newer than this binary knows.
caf::error check_version(database& db);

/// Brings the file to `latest_version` in one transaction, keeping every
/// row. Running it again changes nothing.
caf::error migrate(database& db);

} // namespace schema

} // namespace orchd::storage
