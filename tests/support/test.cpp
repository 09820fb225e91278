#include "tests/support/test.hpp"

#include <thread>

#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace orchd::test {

temp_dir::temp_dir() {
  auto pattern =
      (std::filesystem::temp_directory_path() / "orchd-test-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_fixture(const std::string& name) {
  std::ifstream in{ORCHD_FIXTURES_DIR "/" + name, std::ios::binary};
  REQUIRE_MESSAGE(in.good(), "missing fixture " << name);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::shared_ptr<storage::database> open_db(const std::string& path,
                                           const std::string& sync) {
  storage::open_options opts;
  opts.path = path;
  opts.synchronous = sync;
  auto db = storage::database::open(opts);
  if (!db)
    FAIL("cannot open " << path << ": " << describe(db.error()));
  return std::shared_ptr<storage::database>{std::move(*db)};
}

std::string sql_rows(storage::database& db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt, nullptr) ==
          SQLITE_OK);
  std::string out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      if (i > 0)
        out += '|';
      auto p = sqlite3_column_text(stmt, i);
      out += p != nullptr ? reinterpret_cast<const char*>(p) : "NULL";
    }
    out += '\n';
  }
  sqlite3_finalize(stmt);
  REQUIRE(rc == SQLITE_DONE);
  return out;
}

std::string sql_value(storage::database& db, const std::string& sql) {
  auto rows = sql_rows(db, sql);
  if (!rows.empty() && rows.back() == '\n')
    rows.pop_back();
  return rows;
}

config one_project_config(const std::string& clone_path,
                          const std::string& workspace_root) {
  auto cfg = default_config();
  project_config p;
  p.repo = "acme/widgets";
  p.prefix = "ET";
  p.clone_path = clone_path;
  p.plane_project_id = "59e3be42-87ec-4950-99a3-ae639cf2b089";
  cfg.projects = {p};
  cfg.workspace_root = workspace_root;
  return cfg;
}

bool eventually(const std::function<bool()>& holds,
                std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!holds()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

caf::actor_system_config& actor_fixture::init(caf::actor_system_config& cfg) {
  register_types(cfg);
  cfg.set("scheduler.policy", caf::atom("testing"));
  return cfg;
}

actor_fixture::actor_fixture()
    : sys(init(cfg))
    , self(sys, true)
    , sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {}

actor_fixture::~actor_fixture() {
  run();
}

void actor_fixture::run() {
  // Timeouts fire only when a test moves the clock (sched.advance_time):
  // firing them here would spin forever on an actor's periodic timer.
  while (sched.has_job())
    sched.run();
}

} // namespace orchd::test
