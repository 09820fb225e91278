// The orchd binary as a process: start, SIGTERM, refusals and exit codes.
#include "storage/schema.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace orchd;
using test::child_process;
using test::run_to_end;

namespace {

const std::string orchd_bin = ORCHD_BINARY;

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary};
  out << text;
}

} // namespace

TEST_CASE("serve starts on a temp database and exits 0 on SIGTERM") {
  test::temp_dir dir;
  auto db = dir.file("data/orchd.db");
  child_process p{
      orchd_bin, {"serve", "--db", db, "--port", "0"}, dir.path().string()};
  REQUIRE_MESSAGE(p.wait_for_output("ready"), p.output());
  p.signal(SIGTERM);
  CHECK(p.wait_exit() == 0);
  CHECK(p.output().find("orchd stopped") != std::string::npos);
  auto opened = test::open_db(db);
  CHECK(opened->pragma_int("user_version") == storage::schema::latest_version);
}

TEST_CASE("SIGINT stops the daemon the same way") {
  test::temp_dir dir;
  child_process p{orchd_bin,
                  {"serve", "--db", dir.file("o.db"), "--port", "0"},
                  dir.path().string()};
  REQUIRE_MESSAGE(p.wait_for_output("ready"), p.output());
  p.signal(SIGINT);
  CHECK(p.wait_exit() == 0);
}

TEST_CASE("a bad configuration exits 2 naming the key") {
  test::temp_dir dir;
  auto conf = dir.file("bad.json");
  write_file(conf, R"({
    // a typo in the second project
    "projects": [
      {"repo": "acme/widgets", "prefix": "ET", "clone_path": "/src/w",
       "plane_project_id": "p1"},
      {"repo": "acme/gadgets", "prefix": 7, "clone_path": "/src/g",
       "plane_project_id": "p2"}
    ]
  })");
  auto [code, out] = run_to_end(
      orchd_bin, {"serve", "--config", conf, "--db", dir.file("o.db")},
      dir.path().string());
  CHECK(code == 2);
  CHECK(out.find("projects[1].prefix: expected a string") != std::string::npos);
  // Nothing was started: no database was made.
  CHECK_FALSE(std::filesystem::exists(dir.file("o.db")));
  auto [check_code, check_out] =
      run_to_end(orchd_bin, {"check-config", conf}, dir.path().string());
  CHECK(check_code == 2);
  CHECK(check_out.find("projects[1].prefix") != std::string::npos);
}

TEST_CASE("check-config prints the effective configuration") {
  test::temp_dir dir;
  auto conf = dir.file("ok.json");
  write_file(conf, R"({"listen": {"port": 9999}})");
  auto [code, out] =
      run_to_end(orchd_bin, {"check-config", conf}, dir.path().string());
  CHECK(code == 0);
  CHECK(out.find("\"port\": 9999") != std::string::npos);
  CHECK(out.find("scripts/fake-agent") != std::string::npos);
}

TEST_CASE("bad usage exits 2") {
  test::temp_dir dir;
  CHECK(
      run_to_end(orchd_bin, {"serve", "--bogus"}, dir.path().string()).first ==
      2);
  CHECK(run_to_end(orchd_bin, {"serve", "--port", "99999"}, dir.path().string())
            .first == 2);
  CHECK(run_to_end(orchd_bin, {"frobnicate"}, dir.path().string()).first == 2);
  auto [code, out] = run_to_end(orchd_bin, {"--version"}, dir.path().string());
  CHECK(code == 0);
  CHECK(out.rfind("orchd ", 0) == 0);
}

TEST_CASE("an unusable database exits 3 and is left untouched") {
  test::temp_dir dir;
  auto db = dir.file("notes.db");
  write_file(db, "not a database at all, but nobody's notes either\n");
  auto [code, out] = run_to_end(orchd_bin, {"serve", "--db", db, "--port", "0"},
                                dir.path().string());
  CHECK(code == 3);
  CHECK(out.find("cannot use the database") != std::string::npos);
  CHECK(slurp(db) == "not a database at all, but nobody's notes either\n");
}

TEST_CASE("a second daemon on the same database exits 3 naming it and the "
          "first one's pid") {
  test::temp_dir dir;
  auto db = dir.file("o.db");
  child_process first{
      orchd_bin, {"serve", "--db", db, "--port", "0"}, dir.path().string()};
  test::wait_until_listening(first);
  auto [code, out] = run_to_end(orchd_bin, {"serve", "--db", db, "--port", "0"},
                                dir.path().string());
  CHECK(code == 3);
  CHECK(out.find(db + " is in use by another orchd (pid " +
                 std::to_string(first.pid()) + ")") != std::string::npos);
  // The first is unharmed, and once it is gone the file is free again.
  first.signal(SIGTERM);
  CHECK(first.wait_exit() == 0);
  child_process second{
      orchd_bin, {"serve", "--db", db, "--port", "0"}, dir.path().string()};
  test::wait_until_listening(second);
  second.signal(SIGTERM);
  CHECK(second.wait_exit() == 0);
}

TEST_CASE("an admin token under 32 bytes stops the daemon; none is warned "
          "about") {
  test::temp_dir dir;
  setenv("ORCHD_ADMIN_TOKEN", "hunter2", 1);
  auto [code, out] =
      run_to_end(orchd_bin, {"serve", "--db", dir.file("o.db"), "--port", "0"},
                 dir.path().string());
  unsetenv("ORCHD_ADMIN_TOKEN");
  CHECK(code == 2);
  CHECK(out.find("secrets.admin_token (ORCHD_ADMIN_TOKEN): 7 bytes; an admin "
                 "token must be at least 32 bytes") != std::string::npos);
  CHECK(out.find("hunter2") == std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("o.db")));
  child_process p{orchd_bin,
                  {"serve", "--db", dir.file("o.db"), "--port", "0"},
                  dir.path().string()};
  test::wait_until_listening(p);
  CHECK(p.output().find("no admin token is set (ORCHD_ADMIN_TOKEN)") !=
        std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait_exit() == 0);
}

TEST_CASE("with admin.listen set, the admin routes are served there alone") {
  test::temp_dir dir;
  auto conf = dir.file("orchd.json");
  write_file(conf, R"({"listen": {"port": 0}, "admin": {"listen": "0"}})");
  const std::string token = "daemon-admin-token-0123456789abcdef";
  setenv("ORCHD_ADMIN_TOKEN", token.c_str(), 1);
  child_process p{orchd_bin,
                  {"serve", "--config", conf, "--db", dir.file("o.db")},
                  dir.path().string()};
  unsetenv("ORCHD_ADMIN_TOKEN");
  auto main_port = test::wait_until_listening(p);
  const std::string marker = "admin routes served on 127.0.0.1:";
  auto at = p.output().find(marker);
  REQUIRE_MESSAGE(at != std::string::npos, p.output());
  auto admin_port =
      static_cast<uint16_t>(std::stoi(p.output().substr(at + marker.size())));
  CHECK(admin_port != main_port);
  auto status = [](uint16_t port, const std::string& raw) {
    test::connection c{port};
    c.send_raw(raw);
    return test::status_of(c.read_response());
  };
  auto queue = "GET /queue HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
               token + "\r\n\r\n";
  std::string health = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  std::string webhook = "POST /webhooks/github HTTP/1.1\r\nHost: t\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: 2\r\n\r\n{}";
  CHECK(status(main_port, queue) == 404);
  CHECK(status(admin_port, queue) == 200);
  CHECK(status(main_port, health) == 200);
  CHECK(status(admin_port, health) == 200);
  // Unsigned: the main listener takes it to intake (401), the admin one
  // does not know the route.
  CHECK(status(main_port, webhook) == 401);
  CHECK(status(admin_port, webhook) == 404);
  p.signal(SIGTERM);
  CHECK(p.wait_exit() == 0);
}

TEST_CASE("the database, its journal and orchd's folders are its user's "
          "alone, also when an earlier daemon left them wider") {
  test::temp_dir dir;
  auto db = dir.file("o.db");
  write_file(db, ""); // an empty file is an empty database
  ::chmod(db.c_str(), 0644);
  std::filesystem::create_directories(dir.file("var/runs"));
  ::chmod(dir.file("var/runs").c_str(), 0755);
  child_process p{
      orchd_bin, {"serve", "--db", db, "--port", "0"}, dir.path().string()};
  test::wait_until_listening(p);
  auto mode = [](const std::string& path) {
    struct stat st {};
    REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
    return st.st_mode & 07777;
  };
  CHECK(mode(db) == 0600);
  CHECK(mode(db + "-wal") == 0600);
  CHECK(mode(db + "-shm") == 0600);
  CHECK(mode(db + ".lock") == 0600);
  CHECK(mode(dir.file("var/runs")) == 0700);
  CHECK(mode(dir.file("var/worktrees")) == 0700);
  CHECK(p.output().find("made " + db + " private (mode was 0644)") !=
        std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait_exit() == 0);
}
