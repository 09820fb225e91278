// Named moments where the daemon can be made to kill itself (SIGKILL), so a
// test proves what a crash exactly there leaves behind. `ORCHD_CRASH_AT`
// names the one point armed for this process (read once); unset, as in
// every real deployment, a point costs one comparison.
#pragma once

namespace orchd {

/// The points, in a job's life.
namespace crash_at {
/// The claim is committed (job running, no run yet).
inline constexpr const char* claim = "after_claim";
/// The agent runs and its pid is durable.
inline constexpr const char* spawn = "after_spawn";
/// The run's outcome is recorded; the job is not finalised yet.
inline constexpr const char* outcome = "after_outcome";
/// The job is finalised.
inline constexpr const char* finalise = "after_finalise";
/// A task's card is sent to Telegram, not yet in the ledger.
inline constexpr const char* card_sent = "after_card_send";
/// A bump's new card is in the ledger; the older cards are not deleted.
inline constexpr const char* card_recorded = "after_card_record";
} // namespace crash_at

/// Kills this process with SIGKILL (after one log line) when `point` is the
/// one `ORCHD_CRASH_AT` names.
void crash_point(const char* point);

} // namespace orchd
