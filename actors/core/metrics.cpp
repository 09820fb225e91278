#include "actors/core/metrics.hpp"

#include "actors/core/replies.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

namespace orchd::metrics {

namespace {

enum class kind { counter, gauge, histogram };

struct family {
  const char* name;
  kind type;
  const char* help;
  std::vector<double> buckets = {};
};

const std::vector<double> seconds_buckets{0.001, 0.005, 0.025, 0.1, 0.5,  1,
                                          5,     30,    120,   600, 1800, 3600};

// Every family orchd exports, in the order /metrics shows them.
const std::vector<family>& families() {
  static const std::vector<family> table{
      {"orchd_webhooks_total", kind::counter,
       "Webhook deliveries by source and answer (new, duplicate, ignored, "
       "rejected, error) and, for rejected and error ones, why."},
      {"orchd_http_requests_total", kind::counter,
       "HTTP requests answered, by route and status."},
      {"orchd_http_connections_open", kind::gauge,
       "HTTP connections open now."},
      {"orchd_events_unhandled", kind::gauge,
       "Recorded webhook events not handled yet (database)."},
      {"orchd_tasks", kind::gauge, "Tasks by stage (database)."},
      {"orchd_jobs", kind::gauge, "Jobs by status (database)."},
      {"orchd_claims_total", kind::counter, "Jobs claimed by the scheduler."},
      {"orchd_agent_runs_total", kind::counter,
       "Agent runs finished, by agent and outcome."},
      {"orchd_agent_duration_seconds", kind::histogram,
       "Agent run durations, by agent.", seconds_buckets},
      {"orchd_job_wait_seconds", kind::histogram,
       "From a job's enqueue (or its due time) to its agent's start.",
       seconds_buckets},
      {"orchd_tokens", kind::gauge,
       "Tokens used by agent runs, by project, agent and kind (database)."},
      {"orchd_cost_usd", kind::gauge,
       "Cost of agent runs in USD, by project and agent (database)."},
      {"orchd_reaper_flips_total", kind::counter,
       "Jobs the reaper flipped, by tier."},
      {"orchd_storage_batch_rows",
       kind::histogram,
       "Requests committed together in one storage batch.",
       {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}},
      {"orchd_storage_commit_seconds",
       kind::histogram,
       "Storage commit latency (one batch, fsync included).",
       {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
        0.25, 1}},
      {"orchd_mailbox_depth", kind::gauge,
       "Messages waiting in each long-lived actor's mailbox."},
  };
  return table;
}

const family* find_family(std::string_view name) {
  for (auto& f : families())
    if (name == f.name)
      return &f;
  return nullptr;
}

struct series {
  double value = 0;
  std::vector<uint64_t> buckets;
  double sum = 0;
  uint64_t count = 0;
};

std::atomic<bool> on{true};
// Set when the program loads, before main.
const auto process_start = std::chrono::steady_clock::now();
std::mutex mx;
// family -> labels -> series
std::map<std::string, std::map<std::string, series>, std::less<>> all;

std::string number(double x) {
  if (std::isinf(x))
    return x > 0 ? "+Inf" : "-Inf";
  if (std::isnan(x))
    return "NaN";
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", x);
  return buf;
}

std::string braces(const std::string& labels, const std::string& more = {}) {
  if (labels.empty() && more.empty())
    return {};
  if (labels.empty())
    return "{" + more + "}";
  if (more.empty())
    return "{" + labels + "}";
  return "{" + labels + "," + more + "}";
}

} // namespace

void set_enabled(bool x) {
  on = x;
}

bool enabled() {
  return on.load(std::memory_order_relaxed);
}

std::string labels(label_list xs) {
  std::string out;
  for (auto& [k, v] : xs) {
    if (!out.empty())
      out += ',';
    out.append(k);
    out += "=\"";
    for (auto c : v) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '"')
        out += "\\\"";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    out += '"';
  }
  return out;
}

namespace {

// The series of a family and labels, made on first use (hold `mx`).
series& series_of(std::string_view name, const std::string& key) {
  auto i = all.find(name);
  if (i == all.end())
    i = all.emplace(std::string{name}, std::map<std::string, series>{}).first;
  return i->second[key];
}

} // namespace

void add(std::string_view name, label_list xs, double by) {
  if (!enabled())
    return;
  auto key = labels(xs);
  std::lock_guard<std::mutex> guard{mx};
  series_of(name, key).value += by;
}

void observe(std::string_view name, label_list xs, double value) {
  if (!enabled())
    return;
  auto f = find_family(name);
  if (!f)
    return;
  auto key = labels(xs);
  std::lock_guard<std::mutex> guard{mx};
  auto& s = series_of(name, key);
  if (s.buckets.empty())
    s.buckets.assign(f->buckets.size(), 0);
  for (size_t b = 0; b < f->buckets.size(); ++b)
    if (value <= f->buckets[b])
      ++s.buckets[b];
  s.sum += value;
  ++s.count;
}

std::string render(const std::vector<metric_sample>& from_db) {
  std::string out;
  std::lock_guard<std::mutex> guard{mx};
  for (auto& f : families()) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    out += f.help;
    out += "\n# TYPE ";
    out += f.name;
    out += f.type == kind::counter ? " counter\n"
           : f.type == kind::gauge ? " gauge\n"
                                   : " histogram\n";
    for (auto& x : from_db)
      if (x.name == f.name)
        out += x.name + braces(x.labels) + ' ' + number(x.value) + '\n';
    auto i = all.find(f.name);
    if (i == all.end())
      continue;
    for (auto& [labels, s] : i->second) {
      if (f.type != kind::histogram) {
        out += f.name + braces(labels) + ' ' + number(s.value) + '\n';
        continue;
      }
      std::string name = f.name;
      for (size_t b = 0; b < f.buckets.size(); ++b)
        out += name + "_bucket" +
               braces(labels, "le=\"" + number(f.buckets[b]) + "\"") + ' ' +
               number(static_cast<double>(s.buckets[b])) + '\n';
      out += name + "_bucket" + braces(labels, "le=\"+Inf\"") + ' ' +
             number(static_cast<double>(s.count)) + '\n';
      out += name + "_sum" + braces(labels) + ' ' + number(s.sum) + '\n';
      out += name + "_count" + braces(labels) + ' ' +
             number(static_cast<double>(s.count)) + '\n';
    }
  }
  return out;
}

int64_t uptime_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now() - process_start)
      .count();
}

void reset() {
  std::lock_guard<std::mutex> guard{mx};
  all.clear();
}

} // namespace orchd::metrics
