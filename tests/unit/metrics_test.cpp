// The metrics registry's exposition text (Prometheus 0.0.4) and the JSON
// log line.
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/core/replies.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace orchd;

TEST_CASE("metrics: counters, gauges and histograms as text") {
  metrics::reset();
  metrics::add("orchd_webhooks_total",
               {{"source", "plane"}, {"answer", "new"}, {"reason", ""}});
  metrics::add("orchd_webhooks_total",
               {{"source", "plane"}, {"answer", "new"}, {"reason", ""}}, 2);
  metrics::observe("orchd_storage_batch_rows", {}, 3);
  metrics::observe("orchd_storage_batch_rows", {}, 100);
  auto text = metrics::render({{"orchd_tasks", "stage=\"review\"", 4}});
  CHECK(text.find("# TYPE orchd_webhooks_total counter\n") !=
        std::string::npos);
  CHECK(text.find("orchd_webhooks_total{source=\"plane\",answer=\"new\","
                  "reason=\"\"} 3\n") != std::string::npos);
  CHECK(text.find("orchd_tasks{stage=\"review\"} 4\n") != std::string::npos);
  // Buckets are cumulative; +Inf, sum and count follow.
  CHECK(text.find("orchd_storage_batch_rows_bucket{le=\"2\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("orchd_storage_batch_rows_bucket{le=\"4\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("orchd_storage_batch_rows_bucket{le=\"128\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("orchd_storage_batch_rows_bucket{le=\"+Inf\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("orchd_storage_batch_rows_sum 103\n") != std::string::npos);
  CHECK(text.find("orchd_storage_batch_rows_count 2\n") != std::string::npos);
  // Every family has its HELP and TYPE, even with no series yet.
  CHECK(text.find("# TYPE orchd_reaper_flips_total counter\n") !=
        std::string::npos);
  metrics::reset();
}

TEST_CASE("metrics: label values escaped; off keeps nothing") {
  CHECK(metrics::labels({{"a", "x\"y\\z\nw"}}) == "a=\"x\\\"y\\\\z\\nw\"");
  metrics::reset();
  metrics::set_enabled(false);
  metrics::add("orchd_claims_total", {});
  metrics::set_enabled(true);
  auto text = metrics::render({});
  CHECK(text.find("\norchd_claims_total ") == std::string::npos);
  metrics::add("orchd_claims_total", {});
  CHECK(metrics::render({}).find("\norchd_claims_total 1\n") !=
        std::string::npos);
  metrics::reset();
}

TEST_CASE("log: a JSON line reads the actor and ids from the text") {
  auto line = log::json_line(
      log::level::info,
      "orchd.pipeline: transition: task 12 ET-7, analysis -> review: ok, "
      "enqueued job 31",
      "transition", 1796300000);
  auto j = nlohmann::json::parse(line);
  CHECK(j["ts"] == "2026-12-03T12:13:20Z");
  CHECK(j["level"] == "info");
  CHECK(j["actor"] == "pipeline");
  CHECK(j["event"] == "transition");
  CHECK(j["task"] == 12);
  CHECK(j["job"] == 31);
  CHECK(j["work_item"] == "ET-7");
  CHECK(j["msg"].get<std::string>().find("analysis -> review") !=
        std::string::npos);
  auto plain = nlohmann::json::parse(
      log::json_line(log::level::warn, "listening on 127.0.0.1:80", {}, 0));
  CHECK(plain["actor"] == "daemon");
  CHECK_FALSE(plain.contains("event"));
  CHECK_FALSE(plain.contains("task"));
  CHECK_FALSE(plain.contains("work_item"));
  // Invalid UTF-8 from an agent never breaks the line.
  auto odd = log::json_line(log::level::error, "bad \xff byte", {}, 0);
  CHECK(nlohmann::json::parse(odd)["msg"].is_string());
}
