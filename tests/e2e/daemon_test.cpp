// The orchd binary as a process: start, SIGTERM, refusals and exit codes.
#include "storage/schema.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <csignal>
#include <fstream>
#include <sstream>

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
