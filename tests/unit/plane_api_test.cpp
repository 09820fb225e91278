// Plane's requests as orchd builds them, how its answers are read, and the
// outbound client's URL rules (plain http only to loopback).
#include "actors/logic/plane_api.hpp"
#include "http/client/https_client.hpp"

#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

using namespace orchd;
using json = nlohmann::json;

namespace {

plane::endpoint endpoint() {
  return {"https://api.plane.so/", "acme", "key-1"};
}

outbound_response
answer(int status, std::vector<std::pair<std::string, std::string>> h = {},
       std::string body = {}) {
  outbound_response r;
  r.status = status;
  r.headers = std::move(h);
  r.body = std::move(body);
  return r;
}

} // namespace

TEST_CASE("Plane requests: paths, key, bodies") {
  auto states = plane::list_states(endpoint(), "proj");
  CHECK(states.method == "GET");
  CHECK(states.url ==
        "https://api.plane.so/api/v1/workspaces/acme/projects/proj/states/");
  REQUIRE(states.headers.size() == 1);
  CHECK(states.headers[0].first == "X-API-Key");
  CHECK(states.headers[0].second == "key-1");
  auto move = plane::set_state(endpoint(), "proj", "item", "s-1");
  CHECK(move.method == "PATCH");
  CHECK(move.url == "https://api.plane.so/api/v1/workspaces/acme/projects/"
                    "proj/work-items/item/");
  CHECK(json::parse(move.body) == json{{"state", "s-1"}});
  auto comment =
      plane::add_comment(endpoint(), "proj", "item",
                         "BRD <ready> & \"done\"\nline 2", "orchd-3-1");
  CHECK(comment.method == "POST");
  CHECK(comment.url == "https://api.plane.so/api/v1/workspaces/acme/projects/"
                       "proj/work-items/item/comments/");
  auto body = json::parse(comment.body);
  CHECK(body["comment_html"] ==
        "<p>BRD &lt;ready&gt; &amp; &quot;done&quot;<br>line 2</p>");
  CHECK(body["external_source"] == "orchd");
  CHECK(body["external_id"] == "orchd-3-1");
  auto list = plane::list_work_items(endpoint(), "proj", "c-2", 100);
  CHECK(list.url == "https://api.plane.so/api/v1/workspaces/acme/projects/"
                    "proj/work-items/?expand=state,labels&per_page=100"
                    "&cursor=c-2");
}

TEST_CASE("Plane states: names (any case) to ids, both list forms") {
  auto page = plane::parse_states(
      R"({"results": [{"id": "a", "name": "BRD Review"}, {"id": 3}, 7,
                      {"id": "b", "name": "Done"}]})");
  REQUIRE(page);
  CHECK(page->size() == 2);
  CHECK(page->at("brd review") == "a");
  CHECK(page->at("done") == "b");
  auto plain = plane::parse_states(R"([{"id": "c", "name": "Approved"}])");
  REQUIRE(plain);
  CHECK(plain->at("approved") == "c");
  CHECK(plane::parse_states("{").error() == ec::malformed_payload);
  CHECK(plane::parse_states(R"({"results": 1})").error() ==
        ec::malformed_payload);
}

TEST_CASE("Plane answers: ok, retried with the rate limit's hint, refused") {
  CHECK(plane::classify(answer(200), 0, 5, 600, 1000).kind ==
        plane::verdict::ok);
  CHECK(plane::classify(answer(201), 0, 5, 600, 1000).kind ==
        plane::verdict::ok);
  // 429: Retry-After, else the reset time (epoch or seconds), else backoff.
  auto after =
      plane::classify(answer(429, {{"retry-after", "17"}}), 0, 5, 600, 1000);
  CHECK(after.kind == plane::verdict::retry);
  CHECK(after.retry_in_s == 17);
  auto reset =
      plane::classify(answer(429, {{"X-RateLimit-Reset", "1700000042"}}), 0, 5,
                      600, 1700000000);
  CHECK(reset.retry_in_s == 42);
  CHECK(plane::classify(answer(429), 2, 5, 600, 0).retry_in_s == 40);
  // 5xx, 408 and no answer back off, capped.
  CHECK(plane::classify(answer(503), 0, 5, 600, 0).retry_in_s == 10);
  CHECK(plane::classify(answer(408), 10, 5, 600, 0).retry_in_s == 600);
  outbound_response none;
  none.error = "connection refused";
  auto down = plane::classify(none, 0, 5, 600, 0);
  CHECK(down.kind == plane::verdict::retry);
  CHECK(down.error == "no answer: connection refused");
  // Other 4xx: refused for good, with what Plane said.
  auto gone = plane::classify(answer(404, {}, R"({"error":"not found"})"), 0, 5,
                              600, 0);
  CHECK(gone.kind == plane::verdict::refused);
  CHECK(gone.error == R"(HTTP 404: {"error":"not found"})");
}

TEST_CASE("Plane work item pages become webhook bodies") {
  auto page = plane::parse_work_items(
      R"({"next_cursor": "100:1:0", "next_page_results": true,
          "results": [{"id": "w-1", "name": "A",
                       "state": {"name": "In Progress", "group": "started"}},
                      {"name": "no id"}]})");
  REQUIRE(page);
  REQUIRE(page->items.size() == 1);
  CHECK(page->more);
  CHECK(page->next_cursor == "100:1:0");
  auto hook = json::parse(page->items[0]);
  CHECK(hook["event"] == "issue");
  CHECK(hook["data"]["id"] == "w-1");
  CHECK(hook["data"]["state"]["group"] == "started");
  auto last = plane::parse_work_items(
      R"({"next_cursor": "x", "next_page_results": "yes", "results": []})");
  REQUIRE(last);
  CHECK_FALSE(last->more);
  CHECK(plane::parse_work_items("[]").error() == ec::malformed_payload);
}

TEST_CASE("outbound URLs: https anywhere, plain http only to loopback") {
  auto u = http_client::parse_url("https://api.plane.so/api/v1/x?y=1");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "api.plane.so");
  CHECK(u->port == "443");
  CHECK(u->target == "/api/v1/x?y=1");
  auto local = http_client::parse_url("http://[::1]:8080");
  REQUIRE(local);
  CHECK_FALSE(local->tls);
  CHECK(local->host == "::1");
  CHECK(local->port == "8080");
  CHECK(local->target == "/");
  for (auto bad : {"ftp://x/", "https://", "https://u@host/", "http://h:x/",
                   "api.plane.so"})
    CHECK_FALSE(http_client::parse_url(bad));
  for (auto host : {"localhost", "127.0.0.1", "127.8.9.1", "::1"})
    CHECK(http_client::is_loopback_host(host));
  for (auto host : {"10.0.0.1", "api.plane.so", "localhost.evil.com"})
    CHECK_FALSE(http_client::is_loopback_host(host));
  http_client::client c{std::chrono::seconds(2)};
  outbound_request r;
  r.url = "http://api.plane.so/";
  auto refused = c.send(r);
  CHECK(refused.status == 0);
  CHECK(refused.error.find("only to a loopback host") != std::string::npos);
}

TEST_CASE("the reviewer's newest comment, not orchd's own") {
  CHECK(plane::latest_human_comment(
            R"({"results": [
                 {"comment_stripped": "first", "created_at": "2026-01-01"},
                 {"comment_html": "<p>Use <b>backoff</b></p>",
                  "created_at": "2026-01-03"},
                 {"comment_html": "<p>orchd: BRD ready</p>",
                  "external_source": "orchd", "created_at": "2026-01-04"},
                 {"comment_stripped": "older", "created_at": "2026-01-02"}]})") ==
        "Use backoff");
  CHECK(plane::latest_human_comment(R"([{"comment_stripped": "only"}])") ==
        "only");
  CHECK(plane::latest_human_comment("[]").empty());
  CHECK(plane::latest_human_comment("{").empty());
  auto r = plane::list_comments(endpoint(), "proj", "item");
  CHECK(r.url == "https://api.plane.so/api/v1/workspaces/acme/projects/proj/"
                 "work-items/item/comments/");
}
