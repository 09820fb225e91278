// Process-local metrics (counters, gauges, histograms) and their
// Prometheus text exposition (format 0.0.4). Every family orchd exports is
// declared in metrics.cpp's table, with its help text, type and buckets;
// the daemon's parts add to them from any thread. Gauges read from the
// database (tasks by stage, jobs by status, ...) are not kept here: they
// are passed to `render` as samples, so they are exact after a restart.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orchd {
struct metric_sample; // replies.hpp
} // namespace orchd

namespace orchd::metrics {

using label_list =
    std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Off: every add and observe returns at once (the bench's "without").
void set_enabled(bool on);
bool enabled();

/// Labels in exposition form: `k1="v1",k2="v2"` (values escaped).
std::string labels(label_list xs);

/// Adds `by` to a counter or gauge series of a declared family.
void add(std::string_view family, label_list xs, double by = 1);

/// Records one value into a histogram series of a declared family.
void observe(std::string_view family, label_list xs, double value);

/// The exposition text of every declared family: the process's own series
/// and, for the database's gauges, `from_db`.
std::string render(const std::vector<metric_sample>& from_db);

/// Seconds since the process started.
int64_t uptime_seconds();

/// Forgets every series (tests).
void reset();

} // namespace orchd::metrics
