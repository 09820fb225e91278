// The webhook front door over real HTTP: the real binary on an OS-chosen
// loopback port, a real SQLite file, every row of the bad-input table.
#include "actors/logic/signature.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/mount.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace orchd;
using test::connection;
using test::status_of;

namespace {

const std::string github_secret = "It's a Secret to Everybody";
const std::string plane_secret = "plane_wh_0123456789abcdef0123456789abcdef";

std::string post(const std::string& path, const std::string& body,
                 const std::vector<std::string>& headers,
                 const std::string& content_type = "application/json") {
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: test\r\n";
  if (!content_type.empty())
    req += "Content-Type: " + content_type + "\r\n";
  for (auto& h : headers)
    req += h + "\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return req + body;
}

const std::string admin_token = "intake-admin-token-0123456789abcdef";

std::vector<std::string>
github_headers(const std::string& body, const std::string& delivery,
               const std::string& event = "check_run") {
  return {"X-GitHub-Event: " + event, "X-GitHub-Delivery: " + delivery,
          "X-Hub-Signature-256: sha256=" +
              hmac_sha256_hex(github_secret, body)};
}

std::vector<std::string> plane_headers(const std::string& body) {
  return {"X-Plane-Event: issue", "X-Plane-Delivery: d-1",
          "X-Plane-Signature: " + hmac_sha256_hex(plane_secret, body)};
}

// The daemon under test, with small limits so they are quick to reach.
struct daemon_fixture {
  test::temp_dir dir;
  std::string db = dir.file("orchd.db");
  std::unique_ptr<test::child_process> proc;
  uint16_t port = 0;

  daemon_fixture() { start(); }

  // No daemon yet: the test starts it (on a database of its choosing, with
  // more "http" keys if it names them).
  explicit daemon_fixture(std::string database, std::string http_keys = "")
      : db(std::move(database))
      , http_extra(std::move(http_keys)) {}

  std::string http_extra;

  void start() {
    std::ofstream{dir.file("orchd.json")} << R"({
      "listen": {"port": 0},
      "http": {"webhook_body_limit_bytes": 65536, "header_limit_bytes": 4096,
               "header_timeout_s": 1, "body_timeout_s": 2)"
                                          << http_extra << R"(}
    })";
    setenv("ORCHD_GITHUB_WEBHOOK_SECRET", github_secret.c_str(), 1);
    setenv("ORCHD_PLANE_WEBHOOK_SECRET", plane_secret.c_str(), 1);
    setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
    proc = std::make_unique<test::child_process>(
        ORCHD_BINARY,
        std::vector<std::string>{"serve", "--config", dir.file("orchd.json"),
                                 "--db", db},
        dir.path().string());
    unsetenv("ORCHD_GITHUB_WEBHOOK_SECRET");
    unsetenv("ORCHD_PLANE_WEBHOOK_SECRET");
    unsetenv("ORCHD_ADMIN_TOKEN");
    port = test::wait_until_listening(*proc);
  }

  ~daemon_fixture() {
    if (!proc)
      return;
    proc->signal(SIGTERM);
    CHECK(proc->wait_exit() == 0);
  }

  std::string roundtrip(const std::string& raw) {
    connection c{port};
    c.send_raw(raw);
    return c.read_response();
  }

  int64_t events() {
    auto opened = test::open_db(db);
    return std::stoll(test::sql_rows(*opened, "SELECT COUNT(*) FROM events"));
  }
};

} // namespace

TEST_CASE_FIXTURE(daemon_fixture, "a signed delivery is recorded once") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  auto raw = post("/webhooks/github", body, github_headers(body, "g-1"));
  auto first = roundtrip(raw);
  CHECK(status_of(first) == 200);
  CHECK(first.find("\"event_id\"") != std::string::npos);
  auto again = roundtrip(raw);
  CHECK(status_of(again) == 200);
  CHECK(again.find("\"duplicate\":true") != std::string::npos);
  CHECK(events() == 1);
  auto plane = test::read_fixture("plane_issue_updated.body.json");
  CHECK(status_of(roundtrip(
            post("/webhooks/plane", plane, plane_headers(plane)))) == 200);
  // Plane retries with a fresh delivery id: still one event.
  auto retry = plane_headers(plane);
  retry[1] = "X-Plane-Delivery: d-2";
  auto dup = roundtrip(post("/webhooks/plane", plane, retry));
  CHECK(dup.find("\"duplicate\":true") != std::string::npos);
  CHECK(events() == 2);
  // GitHub: the same signed body under a new delivery id is a replay.
  auto replay =
      roundtrip(post("/webhooks/github", body, github_headers(body, "g-9")));
  CHECK(status_of(replay) == 200);
  CHECK(replay.find("\"duplicate\":true") != std::string::npos);
  CHECK(events() == 2);
}

TEST_CASE_FIXTURE(daemon_fixture,
                  "a GitHub delivery without a delivery id is refused") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  auto empty =
      roundtrip(post("/webhooks/github", body, github_headers(body, "")));
  CHECK(status_of(empty) == 400);
  CHECK(empty.find("missing X-GitHub-Delivery header") != std::string::npos);
  auto headers = github_headers(body, "unused");
  headers.erase(headers.begin() + 1);
  CHECK(status_of(roundtrip(post("/webhooks/github", body, headers))) == 400);
  CHECK(events() == 0);
}

TEST_CASE_FIXTURE(daemon_fixture,
                  "a sequence id past its width or a bad sha is 400 by name") {
  auto plane = nlohmann::json::parse(
      test::read_fixture("plane_issue_updated.body.json"));
  plane["data"]["sequence_id"] = 1234567890123456789ll;
  auto body = plane.dump();
  auto wide = roundtrip(post("/webhooks/plane", body, plane_headers(body)));
  CHECK(status_of(wide) == 400);
  CHECK(wide.find("data.sequence_id") != std::string::npos);
  auto run = nlohmann::json::parse(
      test::read_fixture("github_check_run_completed.body.json"));
  run["check_run"]["head_sha"] = "--upload-pack=touch /tmp/pwned";
  body = run.dump();
  auto sha =
      roundtrip(post("/webhooks/github", body, github_headers(body, "s-1")));
  CHECK(status_of(sha) == 400);
  CHECK(sha.find("sha: expected 40 lower-case hex digits") !=
        std::string::npos);
  CHECK(events() == 0);
}

TEST_CASE_FIXTURE(daemon_fixture, "keep-alive serves several requests") {
  connection c{port};
  auto body =
      std::string{R"({"zen": "hi", "repository": {"full_name": "a/b"}})"};
  c.send_raw(
      post("/webhooks/github", body, github_headers(body, "ping-1", "ping")));
  CHECK(status_of(c.read_response()) == 202);
  c.send_raw("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(status_of(c.read_response()) == 200);
  CHECK(events() == 1);
}

TEST_CASE_FIXTURE(daemon_fixture,
                  "bad input gets its status and stores nothing") {
  auto good = test::read_fixture("github_check_run_completed.body.json");
  SUBCASE("no signature") {
    CHECK(status_of(roundtrip(post("/webhooks/github", good,
                                   {"X-GitHub-Event: check_run"}))) == 401);
  }
  SUBCASE("wrong signature") {
    auto h = github_headers(good, "g-1");
    h[2] = "X-Hub-Signature-256: sha256=" + std::string(64, '0');
    CHECK(status_of(roundtrip(post("/webhooks/github", good, h))) == 401);
  }
  SUBCASE("not JSON") {
    std::string body = "this is not json";
    CHECK(status_of(roundtrip(post("/webhooks/github", body,
                                   github_headers(body, "g-1")))) == 400);
  }
  SUBCASE("JSON nested 100,000 deep") {
    std::string body(60000, '[');
    CHECK(status_of(roundtrip(post("/webhooks/github", body,
                                   github_headers(body, "g-1")))) == 400);
  }
  SUBCASE("Plane without data.id") {
    std::string body = R"({"event": "issue", "action": "updated", "data": {}})";
    auto answer = roundtrip(post("/webhooks/plane", body, plane_headers(body)));
    CHECK(status_of(answer) == 400);
    CHECK(answer.find("data.id") != std::string::npos);
  }
  SUBCASE("GitHub without repository") {
    std::string body = R"({"action": "completed", "check_run": {}})";
    CHECK(status_of(roundtrip(post("/webhooks/github", body,
                                   github_headers(body, "g-1")))) == 400);
  }
  SUBCASE("Content-Type not JSON") {
    CHECK(status_of(roundtrip(post("/webhooks/github", good,
                                   github_headers(good, "g-1"),
                                   "text/plain"))) == 415);
  }
  SUBCASE("declared body over the limit, answered before the body") {
    connection c{port};
    c.send_raw("POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
               "Content-Type: application/json\r\n"
               "Content-Length: 10000000\r\n\r\n");
    CHECK(status_of(c.read_response()) == 413);
  }
  SUBCASE("chunked body over the limit") {
    connection c{port};
    c.send_raw("POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
               "Content-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
    std::string chunk(16384, 'x');
    char size[16];
    std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    for (int i = 0; i < 8; ++i)
      c.send_raw(size + chunk + "\r\n");
    CHECK(status_of(c.read_response()) == 413);
  }
  SUBCASE("headers over the limit") {
    std::string big = "X-Filler: " + std::string(8000, 'a');
    CHECK(status_of(roundtrip(post("/webhooks/github", good,
                                   {big, "X-GitHub-Event: x"}))) == 431);
  }
  SUBCASE("Content-Length with Transfer-Encoding") {
    CHECK(status_of(roundtrip("POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 2\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n{}")) == 400);
  }
  SUBCASE("two Content-Lengths") {
    CHECK(status_of(roundtrip("POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 2\r\nContent-Length: 2\r\n\r\n"
                              "{}")) == 400);
  }
  SUBCASE("unknown path and wrong method") {
    CHECK(status_of(roundtrip("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")) == 404);
    CHECK(status_of(roundtrip(
              "GET /webhooks/plane HTTP/1.1\r\nHost: t\r\n\r\n")) == 405);
  }
  CHECK(events() == 0);
  // The daemon is still up and well.
  CHECK(status_of(roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) ==
        200);
}

TEST_CASE_FIXTURE(daemon_fixture,
                  "a client sending one byte at a time is cut off") {
  connection c{port};
  c.send_raw("P");
  // header_timeout_s is 1: the server closes; we wait for that event.
  CHECK(c.closed_by_server(10000));
}

TEST_CASE_FIXTURE(daemon_fixture, "admin routes need the bearer token") {
  auto get = [&](const std::string& path, const std::string& auth) {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\n";
    if (!auth.empty())
      req += "Authorization: " + auth + "\r\n";
    return roundtrip(req + "\r\n");
  };
  CHECK(status_of(get("/queue", "")) == 401);
  CHECK(status_of(get("/queue", "Bearer wrong-token")) == 401);
  auto queue = get("/queue", "Bearer " + admin_token);
  CHECK(status_of(queue) == 200);
  CHECK(queue.find("\"queued\":0") != std::string::npos);
  CHECK(status_of(get("/tasks", "Bearer " + admin_token)) == 200);
  auto missing = get("/tasks/42", "Bearer " + admin_token);
  CHECK(status_of(missing) == 404);
  CHECK(status_of(get("/jobs/7", "Bearer " + admin_token)) == 404);
  CHECK(status_of(get("/tasks/abc", "Bearer " + admin_token)) == 404);
  CHECK(status_of(roundtrip("POST /queue HTTP/1.1\r\nHost: t\r\n"
                            "Content-Length: 0\r\n\r\n")) == 405);
}

TEST_CASE_FIXTURE(daemon_fixture, "a signed body with a bad header is 400, "
                                  "and intake goes on taking deliveries") {
  auto body = test::read_fixture("github_check_run_completed.body.json");
  auto bad = roundtrip(post("/webhooks/github", body,
                            github_headers(body, "g-1", "ping\xff\xfe")));
  CHECK(status_of(bad) == 400);
  auto good =
      roundtrip(post("/webhooks/github", body, github_headers(body, "g-2")));
  CHECK(status_of(good) == 200);
  CHECK(status_of(roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) ==
        200);
  CHECK(events() == 1);
}

namespace {

// A tmpfs of `bytes` mounted on a fresh folder for the test's lifetime
// (needs root, as CI runs; `ok()` says whether it could).
struct small_filesystem {
  test::temp_dir dir;
  std::string path = dir.file("fs");
  bool mounted = false;

  explicit small_filesystem(size_t bytes) {
    std::filesystem::create_directories(path);
    auto options = "size=" + std::to_string(bytes) + ",mode=0700";
    mounted = ::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~small_filesystem() {
    if (mounted)
      ::umount2(path.c_str(), MNT_DETACH);
  }

  // Writes a file until the filesystem is full.
  void fill(const std::string& name) {
    std::ofstream out{path + "/" + name, std::ios::binary};
    std::string block(4096, 'x');
    while (out.write(block.data(), block.size()) && out.flush()) {
    }
  }
};

} // namespace

TEST_CASE("disk full: webhooks answer 503, nothing acknowledged is lost, and "
          "intake resumes by itself when space returns") {
  small_filesystem fs{8 * 1024 * 1024};
  if (!fs.mounted) {
    MESSAGE("cannot mount a tmpfs here (not root?): disk-full test not run");
    return;
  }
  daemon_fixture d{fs.path + "/orchd.db"};
  d.start();
  auto pid = d.proc->pid();
  // A body with some weight, each delivery a new row (its own body: a
  // replayed body is a duplicate).
  std::vector<std::string> acknowledged;
  int n = 0;
  auto deliver = [&] {
    auto id = "full-" + std::to_string(n++);
    auto body = R"({"action":"completed","check_run":{"id":")" + id +
                R"(","head_sha":")" + std::string(40, 'a') +
                R"(","conclusion":"success","name":")" +
                std::string(8000, 'n') +
                R"("},"repository":{"full_name":"acme/widgets"}})";
    auto status = status_of(
        d.roundtrip(post("/webhooks/github", body, github_headers(body, id))));
    if (status == 200 || status == 202)
      acknowledged.push_back(id);
    return status;
  };
  REQUIRE(deliver() == 200);
  fs.fill("filler");
  // Whatever SQLite's pages still had room for is taken; then 503.
  int status = 0;
  for (int i = 0; i < 500 && status != 503; ++i)
    status = deliver();
  REQUIRE_MESSAGE(status == 503, d.proc->output());
  for (int i = 0; i < 5; ++i)
    CHECK(deliver() == 503);
  std::filesystem::remove(fs.path + "/filler");
  // The next delivery is stored: no restart, same process.
  CHECK(deliver() == 200);
  CHECK(deliver() == 200);
  CHECK(d.proc->pid() == pid);
  // Said once when it began and once when it ended, not per request.
  CHECK(d.proc->wait_for_output("orchd.storage: writes commit again"));
  auto& log = d.proc->output();
  auto first = log.find("orchd.storage: writes fail");
  CHECK(first != std::string::npos);
  CHECK(log.find("orchd.storage: writes fail", first + 1) == std::string::npos);
  CHECK(status_of(d.roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) ==
        200);
  auto db = test::open_db(d.db);
  for (auto& id : acknowledged)
    CHECK_MESSAGE(test::sql_rows(*db, "SELECT COUNT(*) FROM events WHERE "
                                      "delivery_id = '" +
                                          id + "'") == "1\n",
                  id);
}

namespace {

// CPU seconds the process has used (user and system).
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // Fields after the command's closing parenthesis; utime and stime are the
  // 14th and 15th of the line.
  std::istringstream rest{text.substr(text.rfind(')') + 2)};
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14)
      ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

size_t open_fds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Resident memory in KiB.
long rss_kib(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("out of file descriptors, accept backs off and says so once, then "
          "recovers by itself") {
  daemon_fixture d;
  auto pid = d.proc->pid();
  struct rlimit was {};
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, nullptr, &was) == 0);
  // The daemon raised its soft limit to the hard one at start.
  CHECK(was.rlim_cur == was.rlim_max);
  struct rlimit tight = was;
  tight.rlim_cur = open_fds(pid) + 3;
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &tight, nullptr) == 0);
  std::vector<std::unique_ptr<connection>> idle;
  for (int i = 0; i < 60; ++i)
    idle.push_back(std::make_unique<connection>(d.port));
  // The kernel has them all; the daemon can take three. Over a second it
  // neither spins nor floods its log (before: a core's worth of CPU and
  // millions of lines).
  REQUIRE(d.proc->wait_for_output("http: accept failed"));
  auto cpu_before = cpu_seconds(pid);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto cpu_used = cpu_seconds(pid) - cpu_before;
  CHECK_MESSAGE(cpu_used < 0.3, cpu_used);
  CHECK(count_of(d.proc->output(), "http: accept failed") <= 5);
  REQUIRE(::prlimit(pid, RLIMIT_NOFILE, &was, nullptr) == 0);
  idle.clear();
  CHECK(status_of(d.roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) ==
        200);
  CHECK(d.proc->wait_for_output("http: accepting again after"));
}

TEST_CASE("stalled large uploads keep the daemon's memory under the cap") {
  test::temp_dir data;
  constexpr size_t mib = 1024 * 1024;
  daemon_fixture d{data.file("orchd.db"),
                   R"(, "webhook_body_limit_bytes": 4194304,
                      "max_buffered_bytes": 16777216, "body_timeout_s": 60)"};
  d.start();
  auto pid = d.proc->pid();
  auto rss_before = rss_kib(pid);
  // 40 uploads of 4 MiB each, stalled before their last byte: 160 MiB if
  // each were held. Four fit the cap; the rest are answered 503 and closed.
  std::string part(4 * mib - 1, 'x');
  auto head = "POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
              "Content-Type: application/json\r\nX-GitHub-Event: check_run\r\n"
              "X-GitHub-Delivery: big\r\nContent-Length: " +
              std::to_string(4 * mib) + "\r\n\r\n";
  std::vector<std::unique_ptr<connection>> uploads;
  int refused = 0;
  for (int i = 0; i < 40; ++i) {
    uploads.push_back(std::make_unique<connection>(d.port));
    auto& c = *uploads.back();
    c.send_raw(head);
    // Refused from the header alone, before any of the body is read.
    if (i >= 4)
      refused += status_of(c.read_response(5000)) == 503;
    else
      c.send_raw(part);
  }
  CHECK(refused == 36);
  // The four held ones are the cap (16 MiB) at most; a small request still
  // gets through.
  auto grown_mib = (rss_kib(pid) - rss_before) / 1024;
  CHECK_MESSAGE(grown_mib < 40, grown_mib);
  CHECK(status_of(d.roundtrip("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) ==
        200);
  uploads.clear();
}
