// The job engine end to end: the real orchd binary, a real SQLite file,
// real agent processes (the fake agent and small shell agents), real
// signals. Jobs are put in the file before the daemon starts, as a previous
// daemon would have left them; the daemon claims them on start.
#include "actors/os/child_process.hpp"
#include "actors/os/crash_point.hpp"
#include "actors/os/worktree.hpp"
#include "storage/store.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

using namespace orchd;
using json = nlohmann::json;
using test::child_process;
using test::status_of;

namespace {

const std::string orchd_bin = ORCHD_BINARY;
const std::string fake_agent =
    std::string{ORCHD_SOURCE_DIR} + "/scripts/fake-agent";
const std::string admin_token = "engine-admin-token-0123456789abcdef";

// A one-line success result, for shell agents.
const std::string success_json =
    R"({"type":"result","subtype":"success","is_error":false,"result":"ok",)"
    R"("usage":{"input_tokens":1,"output_tokens":2},"total_cost_usd":0.01})";

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string body_of(const std::string& response) {
  auto at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

struct engine {
  test::temp_dir dir;
  std::string db_path = dir.file("orchd.db");
  json cfg;
  std::unique_ptr<child_process> daemon;
  uint16_t port = 0;
  /// The --port the daemon gets (0: the OS chooses).
  std::string port_arg = "0";

  engine() {
    cfg = {
        {"workspace_root", dir.file("worktrees")},
        {"runner",
         {{"output_dir", dir.file("runs")},
          {"kill_grace_s", 1},
          {"drain_s", 600}}},
        {"scheduler",
         {{"max_concurrency", 4}, {"backoff_base_s", 1}, {"backoff_cap_s", 1}}},
        {"agents",
         {{"developer", {{"program", fake_agent}, {"timeout_s", 60}}},
          {"analyst", {{"program", fake_agent}, {"timeout_s", 60}}}}}};
  }

  // Stops a daemon still running the way an operator would, skipping the
  // drain (SIGTERM, then SIGINT: two different signals never merge), so no
  // agent outlives the test.
  ~engine() {
    if (daemon && ::kill(daemon->pid(), SIGTERM) == 0) {
      ::kill(daemon->pid(), SIGINT);
      daemon->wait_exit();
    }
  }

  // A shell agent: `sh -c script`.
  void shell_agent(const std::string& name, const std::string& script,
                   int64_t timeout_s = 60, int64_t max_attempts = 2) {
    cfg["agents"][name] = {{"program", "/bin/sh"},
                           {"args", {"-c", script}},
                           {"timeout_s", timeout_s},
                           {"max_attempts", max_attempts}};
  }

  storage::store& store() {
    if (!db_) {
      db_ = test::open_db(db_path);
      st_ = std::make_unique<storage::store>(*db_);
    }
    return *st_;
  }

  int64_t job(const std::string& agent, const std::string& content,
              caf::optional<int64_t> task = caf::none, int64_t attempts = 2,
              const std::string& repo = "acme/widgets") {
    new_job j;
    j.max_attempts = attempts;
    j.agent = agent;
    j.repo = repo;
    j.task_id = task;
    j.task_content = content;
    return test::unbox(store().enqueue(j));
  }

  // A task with its (hand-made) worktree folder.
  int64_t task(const std::string& plane_id, const std::string& item,
               const std::string& repo = "acme/widgets") {
    auto t = test::unbox(store().create_task(
                             new_task{plane_id, item, repo, "b-" + item, item}))
                 .task;
    auto owner = repo.substr(0, repo.find('/'));
    auto name = repo.substr(repo.find('/') + 1);
    std::filesystem::create_directories(
        dir.file("worktrees/" + owner + "__" + name + "/" + item));
    return t.id;
  }

  // Starts the daemon with `env` ("K=V") added to its environment; waits
  // for its port unless told not to (a daemon that dies at a crash point
  // may die before it says it is ready).
  void start(const std::vector<std::string>& env = {},
             bool wait_listening = true) {
    st_.reset();
    db_.reset();
    std::ofstream{dir.file("orchd.json")} << cfg.dump(2);
    std::vector<std::string> args{"ORCHD_ADMIN_TOKEN=" + admin_token,
                                  "FAKE_AGENT_STATE_DIR=" + dir.file(""),
                                  "FAKE_AGENT_TRACE=" + dir.file("trace")};
    args.insert(args.end(), env.begin(), env.end());
    for (auto x : {orchd_bin, std::string{"serve"}, std::string{"--config"},
                   dir.file("orchd.json"), std::string{"--db"}, db_path,
                   std::string{"--port"}, port_arg})
      args.push_back(x);
    daemon = std::make_unique<child_process>("/usr/bin/env", args,
                                             dir.path().string());
    if (port_arg == "0" && wait_listening)
      port = test::wait_until_listening(*daemon);
  }

  // Waits until `query` answers `expected` in the daemon's database.
  void wait_for(const std::string& query, const std::string& expected,
                int seconds = 60) {
    auto db = test::open_db(db_path);
    std::string last;
    REQUIRE_MESSAGE(daemon->wait_until(
                        [&] {
                          last = test::sql_value(*db, query);
                          return last == expected;
                        },
                        std::chrono::seconds(seconds)),
                    query << " answers '" << last << "', not '" << expected
                          << "'; the daemon said:\n"
                          << daemon->output());
  }

  void wait_done(int64_t job) {
    wait_for("SELECT status FROM jobs WHERE id = " + std::to_string(job),
             "done");
  }

  void wait_all_done(const std::vector<int64_t>& jobs) {
    std::string ids;
    for (auto id : jobs)
      ids += (ids.empty() ? "" : ",") + std::to_string(id);
    wait_for("SELECT COUNT(*) FROM jobs WHERE status = 'done' AND id IN (" +
                 ids + ")",
             std::to_string(jobs.size()));
  }

  // Its agent runs and its pid is durable (of run `run`, when given).
  void wait_started(int64_t job, int64_t run = 0) {
    wait_for(
        "SELECT status = 'running' AND pid IS NOT NULL" +
            (run > 0 ? " AND run_id = " + std::to_string(run) : std::string{}) +
            " FROM jobs WHERE id = " + std::to_string(job),
        "1");
  }

  // What only the log says: the drain has begun (no state shows it until
  // the inspector lands).
  void wait_log(const std::string& needle, int seconds = 60) {
    REQUIRE_MESSAGE(
        daemon->wait_for_output(needle, std::chrono::seconds(seconds)),
        "no '" << needle << "' in:\n"
               << daemon->output());
  }

  std::string request(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    test::connection c{port};
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\n" +
                      "Authorization: Bearer " + admin_token + "\r\n" +
                      "Content-Type: application/json\r\n" +
                      "Content-Length: " + std::to_string(body.size()) +
                      "\r\nConnection: close\r\n\r\n" + body;
    REQUIRE(c.send_raw(req));
    return c.read_response();
  }

  json job_row(int64_t id) {
    auto r = request("GET", "/jobs/" + std::to_string(id));
    REQUIRE(status_of(r) == 200);
    return json::parse(body_of(r));
  }

  // The same query through a connection of the test's own.
  std::string sql(const std::string& query) {
    return test::sql_value(*test::open_db(db_path), query);
  }

  // "start|end job ns" lines the fake agent wrote.
  struct trace_line {
    std::string what;
    int64_t job;
    int64_t ns;
  };

  std::vector<trace_line> trace() {
    std::vector<trace_line> out;
    std::istringstream in{slurp(dir.file("trace"))};
    trace_line t;
    while (in >> t.what >> t.job >> t.ns)
      out.push_back(t);
    return out;
  }

private:
  std::shared_ptr<storage::database> db_;
  std::unique_ptr<storage::store> st_;
};

// Children of `parent` that are zombies.
int zombies_of(pid_t parent) {
  int n = 0;
  auto dir = opendir("/proc");
  while (auto ent = readdir(dir)) {
    if (ent->d_name[0] < '1' || ent->d_name[0] > '9')
      continue;
    std::ifstream in{std::string{"/proc/"} + ent->d_name + "/stat"};
    std::string line;
    if (!std::getline(in, line))
      continue;
    auto close = line.rfind(')');
    char state = 0;
    int ppid = 0;
    if (close != std::string::npos &&
        std::sscanf(line.c_str() + close + 2, "%c %d", &state, &ppid) == 2 &&
        ppid == parent && state == 'Z')
      ++n;
  }
  closedir(dir);
  return n;
}

} // namespace

TEST_CASE("max_concurrency is never exceeded, and every job runs once") {
  engine e;
  e.cfg["scheduler"]["max_concurrency"] = 3;
  std::vector<int64_t> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back(e.job("developer", "[fake:slow]"));
  e.start({"FAKE_AGENT_SLEEP_S=0.2"});
  e.wait_all_done(ids);
  std::vector<std::pair<int64_t, int>> events;
  std::map<int64_t, int> ends;
  for (auto& t : e.trace()) {
    events.emplace_back(t.ns, t.what == "start" ? 1 : -1);
    ends[t.job] += t.what == "end" ? 1 : 0;
  }
  std::sort(events.begin(), events.end());
  int running = 0;
  int most = 0;
  for (auto& [ns, delta] : events)
    most = std::max(most, running += delta);
  CHECK(most <= 3);
  CHECK(most >= 2); // it did run agents side by side
  CHECK(ends.size() == 12);
  for (auto& [job, n] : ends)
    CHECK(n == 1);
  CHECK(e.sql("SELECT COUNT(*) FROM jobs WHERE status = 'done'") == "12");
  CHECK(e.sql("SELECT COUNT(*) FROM agent_runs WHERE outcome = 'success' "
              "AND input_tokens = 12 AND output_tokens = 78 "
              "AND model = 'fake-model-1'") == "12");
}

TEST_CASE("the agent runs in its worktree with the contract's environment "
          "and only fds 0-2") {
  engine e;
  // The shell tests each fd with a stat (a builtin that opens nothing)
  // before it makes any redirection of its own.
  e.shell_agent("developer",
                "open=''; n=0; while [ $n -lt 1024 ]; do "
                "[ -e /proc/$$/fd/$n ] && open=\"$open $n\"; n=$((n+1)); "
                "done; echo \"$open\" > fds.txt; "
                "env | grep ^ORCHD_ | sort > env.txt; cat > task.txt; "
                "echo '" +
                    success_json + "'");
  auto t = e.task("plane-1", "ET-007");
  auto id = e.job("developer", "do the thing", t);
  e.start();
  e.wait_done(id);
  auto wt = e.dir.file("worktrees/acme__widgets/ET-007/");
  CHECK(slurp(wt + "fds.txt") == " 0 1 2\n");
  CHECK(slurp(wt + "task.txt") == "do the thing");
  auto env = slurp(wt + "env.txt");
  for (auto want :
       {"ORCHD_JOB_ID=" + std::to_string(id), std::string{"ORCHD_ATTEMPT=1"},
        "ORCHD_IDEMPOTENCY_KEY=" + std::to_string(id) + "-1",
        "ORCHD_TASK_ID=" + std::to_string(t),
        std::string{"ORCHD_STAGE=created"},
        std::string{"ORCHD_WORK_ITEM=ET-007"},
        std::string{"ORCHD_BRANCH=b-ET-007"},
        std::string{"ORCHD_AGENT=developer"}})
    CHECK_MESSAGE(env.find(want + "\n") != std::string::npos, want);
  // The admin token is the daemon's, never the agent's.
  CHECK(env.find("ORCHD_ADMIN_TOKEN") == std::string::npos);
  // ORCHD_INSTANCE is opaque: it does not say where the database is.
  CHECK(env.find("ORCHD_INSTANCE=") != std::string::npos);
  CHECK(env.find(e.db_path) == std::string::npos);
  auto j = e.job_row(id);
  CHECK(j["status"] == "done");
  CHECK(j["pid"].is_number());
  // What orchd and its agent made is their user's alone.
  auto mode = [](const std::string& path) {
    struct stat st {};
    REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
    return st.st_mode & 07777;
  };
  // The test made the worktree; its root is the daemon's, narrowed.
  CHECK(mode(e.dir.file("worktrees")) == 0700);
  CHECK(mode(wt + "fds.txt") == 0600);
  CHECK(mode(e.dir.file("runs")) == 0700);
  CHECK(mode(e.sql("SELECT output_path FROM agent_runs")) == 0600);
}

TEST_CASE("an agent finds no secret of the daemon's, in its own environment "
          "or in /proc/<orchd>/environ") {
  engine e;
  test::temp_dir secrets;
  std::ofstream{secrets.file("github")} << "github-secret-from-a-file\n";
  e.shell_agent("developer",
                "tr '\\0' '\\n' < /proc/$PPID/environ > parent.txt; "
                "env > own.txt; echo '" +
                    success_json + "'");
  auto t = e.task("plane-1", "ET-008");
  auto id = e.job("developer", "x", t);
  e.start({"ORCHD_PLANE_WEBHOOK_SECRET=plane-secret-in-the-environment",
           "ORCHD_GITHUB_WEBHOOK_SECRET_FILE=" + secrets.file("github"),
           "SOME_UNRELATED_VARIABLE=kept-from-agents"});
  e.wait_done(id);
  auto wt = e.dir.file("worktrees/acme__widgets/ET-008/");
  auto parent = slurp(wt + "parent.txt");
  auto own = slurp(wt + "own.txt");
  // The agent's parent is the daemon, and it could read its block.
  REQUIRE(parent.find("FAKE_AGENT_TRACE=") != std::string::npos);
  for (auto secret : {"plane-secret-in-the-environment",
                      "github-secret-from-a-file", admin_token.c_str()}) {
    CHECK_MESSAGE(parent.find(secret) == std::string::npos, secret);
    CHECK_MESSAGE(own.find(secret) == std::string::npos, secret);
  }
  // An allow-list: what the config does not name stays with the daemon.
  CHECK(own.find("SOME_UNRELATED_VARIABLE") == std::string::npos);
  CHECK(own.find("FAKE_AGENT_TRACE=") != std::string::npos);
  // The secret from the file is in use: a delivery signed with it is taken.
  CHECK(e.daemon->output().find("no github webhook secret") ==
        std::string::npos);
}

TEST_CASE("a timed-out agent dies with its whole group, grandchildren too") {
  engine e;
  // Both ignore SIGTERM: only the SIGKILL after the grace ends them.
  e.shell_agent("developer",
                "trap '' TERM; sleep 300 & echo $! > grandchild.pid; "
                "echo $$ > leader.pid; wait; wait",
                1, 1);
  auto id = e.job("developer", "hang", caf::none, 1);
  e.start();
  e.wait_for("SELECT status, error FROM jobs WHERE id = " + std::to_string(id),
             "failed|agent timed out after 1 s");
  auto root = e.dir.file("worktrees/");
  auto grandchild = std::stoll(slurp(root + "grandchild.pid"));
  auto leader = std::stoll(slurp(root + "leader.pid"));
  CHECK(test::eventually([&] { return !process_alive(grandchild); }));
  CHECK(test::eventually([&] { return !process_alive(leader); }));
  CHECK(e.sql("SELECT outcome FROM agent_runs") == "timeout");
}

TEST_CASE("1,000 agents spawned and reaped leave no zombie") {
  engine e;
  e.cfg["scheduler"]["max_concurrency"] = 16;
  e.shell_agent("developer", "echo '" + success_json + "'");
  std::vector<int64_t> ids;
  for (int i = 0; i < 1000; ++i)
    ids.push_back(e.job("developer", "x"));
  e.start();
  e.wait_all_done(ids);
  CHECK(e.sql("SELECT COUNT(*) FROM jobs WHERE status = 'done'") == "1000");
  CHECK(zombies_of(e.daemon->pid()) == 0);
}

TEST_CASE("100 MB of output neither hangs the agent nor passes the cap") {
  engine e;
  e.cfg["runner"]["output_cap_bytes"] = 1024 * 1024;
  auto id = e.job("developer", "[fake:huge]");
  e.start({"FAKE_AGENT_OUTPUT_MB=100"});
  e.wait_done(id);
  auto run = e.job_row(id)["run_id"].get<int64_t>();
  auto log = e.dir.file("runs/" + std::to_string(run) + ".log");
  auto size = std::filesystem::file_size(log);
  CHECK(size >= 1024 * 1024);
  CHECK(size <= 1024 * 1024 + 200);
  CHECK(slurp(log).find("output capped at 1048576 bytes") != std::string::npos);
}

TEST_CASE("a 429 is requeued no sooner than its Retry-After, without "
          "spending an attempt") {
  engine e;
  auto id = e.job("developer", "[fake:rate_limited_once]");
  e.start({"FAKE_AGENT_RETRY_AFTER_S=2"});
  e.wait_done(id);
  auto t = e.trace();
  REQUIRE(t.size() == 4);
  CHECK(t[1].what == "end");
  CHECK(t[2].what == "start");
  CHECK(t[2].ns - t[1].ns >= 2'000'000'000);
  CHECK(e.sql("SELECT attempts, transient_attempts FROM jobs") == "1|1");
}

TEST_CASE("the serial gate and a freeze hold a new task's analyst until "
          "the operator unfreezes") {
  engine e;
  auto t = e.task("plane-1", "ET-001");
  auto analyst = e.job("analyst", "analyse", t);
  e.store().freeze_repo("acme/widgets", "DEGRADED verdict", "ET-000");
  auto other = e.job("developer", "not gated");
  e.start();
  e.wait_done(other);
  CHECK(e.job_row(analyst)["status"] == "queued");
  auto freezes = json::parse(body_of(e.request("GET", "/freezes")));
  REQUIRE(freezes["freezes"].size() == 1);
  CHECK(freezes["freezes"][0]["repo"] == "acme/widgets");
  CHECK(status_of(e.request("POST", "/serial-gate/unfreeze",
                            R"({"repo":"acme/gadgets"})")) == 404);
  CHECK(status_of(e.request("POST", "/serial-gate/unfreeze", R"({})")) == 400);
  CHECK(status_of(e.request("POST", "/serial-gate/unfreeze",
                            R"({"repo":"acme/widgets"})")) == 200);
  e.wait_done(analyst);
  CHECK(status_of(e.request("POST", "/serial-gate/unfreeze",
                            R"({"repo":"acme/widgets"})")) == 404);
}

TEST_CASE("the dependency gate holds a task's job; cycles are refused") {
  engine e;
  auto a = e.task("plane-a", "ET-001");
  auto b = e.task("plane-b", "ET-002");
  test::unbox(e.store().add_dependency(b, a));
  auto held = e.job("developer", "waits for a", b);
  auto free = e.job("developer", "free", a);
  e.start();
  e.wait_done(free);
  CHECK(e.job_row(held)["status"] == "queued");
  auto deps = [&](int64_t task, const std::string& body) {
    return e.request("POST", "/tasks/" + std::to_string(task) + "/deps", body);
  };
  auto cycle = deps(a, R"({"depends_on":)" + std::to_string(b) + "}");
  CHECK(status_of(cycle) == 409);
  CHECK(body_of(cycle).find(std::to_string(a) + " -> " + std::to_string(b) +
                            " -> " + std::to_string(a)) != std::string::npos);
  CHECK(status_of(deps(a, R"({"depends_on":)" + std::to_string(a) + "}")) ==
        409);
  CHECK(status_of(deps(a, R"({"depends_on":999})")) == 404);
  CHECK(status_of(deps(a, R"({"depends_on":"x"})")) == 400);
  CHECK(e.sql("SELECT COUNT(*) FROM job_deps") == "1");
  // Task a finishes (the pipeline's stage change, here by hand); the next
  // change the scheduler hears of releases b's job.
  e.sql("UPDATE tasks SET stage = 'done' WHERE id = " + std::to_string(a));
  CHECK(status_of(deps(b, R"({"depends_on":)" + std::to_string(a) + "}")) ==
        200);
  e.wait_done(held);
}

TEST_CASE("cancel kills a running agent; requeue puts the job back") {
  engine e;
  auto id = e.job("developer", "[fake:slow]");
  e.start({"FAKE_AGENT_SLEEP_S=300"});
  e.wait_started(id);
  auto pid = e.job_row(id)["pid"].get<int64_t>();
  auto cancelled = e.request("POST", "/jobs/" + std::to_string(id) + "/cancel");
  CHECK(status_of(cancelled) == 200);
  CHECK(json::parse(body_of(cancelled))["error"] == "cancelled");
  e.wait_for("SELECT outcome FROM agent_runs WHERE id = 1", "cancelled");
  CHECK(test::eventually([&] { return !process_alive(pid); }));
  CHECK(e.job_row(id)["status"] == "failed");
  CHECK(status_of(e.request("POST",
                            "/jobs/" + std::to_string(id) + "/cancel")) == 409);
  CHECK(status_of(e.request("POST", "/jobs/999/cancel")) == 404);
  CHECK(status_of(e.request("POST", "/tasks/999/retry-setup")) == 404);
  CHECK(status_of(e.request("POST", "/jobs/" + std::to_string(id) +
                                        "/requeue")) == 200);
  e.wait_started(id, 2);
  CHECK(status_of(e.request("POST", "/jobs/" + std::to_string(id) +
                                        "/requeue")) == 409);
}

TEST_CASE("kill -9 of the daemon: the restart kills the old agents and "
          "each job completes exactly once") {
  engine e;
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(e.job("developer", "[fake:slow]"));
  e.start({"FAKE_AGENT_SLEEP_S=300"});
  for (auto id : ids)
    e.wait_started(id);
  std::vector<int64_t> old_pids;
  for (auto id : ids)
    old_pids.push_back(e.job_row(id)["pid"].get<int64_t>());
  e.daemon->signal(SIGKILL);
  e.daemon->wait_exit();
  // Orphaned, the agents live on: a new daemon must not run beside them.
  for (auto pid : old_pids)
    CHECK(process_alive(pid));
  e.start({"FAKE_AGENT_SLEEP_S=0"});
  e.wait_all_done(ids);
  for (auto pid : old_pids)
    CHECK(test::eventually([&] { return !process_alive(pid); }));
  std::map<int64_t, int> ends;
  for (auto& t : e.trace())
    ends[t.job] += t.what == "end" ? 1 : 0;
  for (auto id : ids)
    CHECK(ends[id] == 1);
  // One run ended by the restart and one success per job, nothing more.
  std::string runs;
  for (auto id : ids)
    runs += std::to_string(id) + "|shutdown|1\n" + std::to_string(id) +
            "|success|1\n";
  runs.pop_back();
  CHECK(e.sql("SELECT job_id, outcome, COUNT(*) FROM agent_runs "
              "GROUP BY job_id, outcome ORDER BY job_id, outcome") == runs);
  // The restart's interruption spent no code-fault attempt: one attempt
  // each, one interruption each.
  CHECK(e.sql("SELECT DISTINCT attempts, interruptions FROM jobs") == "1|1");
}

TEST_CASE("SIGTERM lets a running agent finish; a second one stops it and "
          "requeues its job") {
  SUBCASE("drained") {
    engine e;
    auto id = e.job("developer", "[fake:slow]");
    e.start({"FAKE_AGENT_SLEEP_S=1"});
    e.wait_started(id);
    e.daemon->signal(SIGTERM);
    e.wait_log("orchd.scheduler: draining");
    CHECK(e.daemon->wait_exit() == 0);
    e.daemon.reset();
    CHECK(e.sql("SELECT status FROM jobs") == "done");
  }
  SUBCASE("stopped") {
    engine e;
    auto id = e.job("developer", "[fake:slow]");
    e.start({"FAKE_AGENT_SLEEP_S=300"});
    e.wait_started(id);
    auto pid = e.job_row(id)["pid"].get<int64_t>();
    e.daemon->signal(SIGTERM);
    e.wait_log("orchd.scheduler: draining");
    e.daemon->signal(SIGTERM);
    CHECK(e.daemon->wait_exit() == 0);
    e.daemon.reset();
    CHECK(test::eventually([&] { return !process_alive(pid); }));
    CHECK(e.sql("SELECT status, error FROM jobs") ==
          "queued|daemon stopped while the agent ran");
  }
}

TEST_CASE("a daemon that cannot listen on its port runs no agent") {
  // Another listener holds the port.
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(holder >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(holder, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::listen(holder, 1) == 0);
  REQUIRE(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  engine e;
  auto id = e.job("developer", "[fake:ok]");
  e.port_arg = std::to_string(ntohs(addr.sin_port));
  e.start();
  CHECK(e.daemon->wait_exit() == 1);
  CHECK(e.daemon->output().find("cannot bind") != std::string::npos);
  // Nothing was claimed: no attempt, no run, no agent.
  CHECK(e.sql("SELECT status || '|' || attempts FROM jobs WHERE id = " +
              std::to_string(id)) == "queued|0");
  CHECK(e.sql("SELECT COUNT(*) FROM agent_runs") == "0");
  CHECK(e.trace().empty());
  ::close(holder);
}

namespace {

// Processes still running whose environment holds `marker` (this test's
// trace path: only its agents have it).
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> out;
  auto dir = opendir("/proc");
  while (auto ent = readdir(dir)) {
    if (ent->d_name[0] < '1' || ent->d_name[0] > '9')
      continue;
    auto env = slurp(std::string{"/proc/"} + ent->d_name + "/environ");
    if (env.find(marker) != std::string::npos)
      out.push_back(static_cast<pid_t>(std::atoi(ent->d_name)));
  }
  closedir(dir);
  return out;
}

} // namespace

TEST_CASE("kill -9 at each point of a job's life: after the restart no job "
          "has two success runs, each ends once, no agent is left") {
  // The first daemon kills itself at the point (ORCHD_CRASH_AT), whatever
  // the other job is doing then; the second runs without it.
  struct point {
    const char* name;
    // What the first daemon's agents do: at after_spawn they must still
    // run when it dies.
    std::string content;
  };
  for (auto p : {point{crash_at::claim, "[fake:success]"},
                 point{crash_at::spawn, "[fake:slow]"},
                 point{crash_at::outcome, "[fake:success]"},
                 point{crash_at::finalise, "[fake:success]"}}) {
    std::string name = p.name;
    CAPTURE(name);
    engine e;
    // One at a time: the second job waits in the queue, so what the crash
    // interrupts is exactly the point (with two agents at once, one may
    // print its result into a pipe the dying daemon never reads, and run
    // again).
    e.cfg["scheduler"]["max_concurrency"] = 1;
    std::vector<int64_t> ids{e.job("developer", p.content),
                             e.job("developer", p.content)};
    e.start({std::string{"ORCHD_CRASH_AT="} + p.name, "FAKE_AGENT_SLEEP_S=300"},
            false);
    REQUIRE_MESSAGE(e.daemon->wait_exit() == 128 + SIGKILL, e.daemon->output());
    CHECK(e.daemon->output().find(std::string{"crash point "} + p.name) !=
          std::string::npos);
    e.start({"FAKE_AGENT_SLEEP_S=0"});
    e.wait_all_done(ids);
    std::map<int64_t, int> ends;
    for (auto& t : e.trace())
      ends[t.job] += t.what == "end" ? 1 : 0;
    for (auto id : ids)
      CHECK(ends[id] == 1);
    CHECK(e.sql("SELECT COUNT(*) FROM agent_runs WHERE outcome = 'success' "
                "GROUP BY job_id HAVING COUNT(*) > 1") == "");
    CHECK(e.sql("SELECT COUNT(*) FROM agent_runs WHERE outcome = 'success'") ==
          "2");
    // No run left without an end, no code-fault attempt spent.
    CHECK(e.sql("SELECT COUNT(*) FROM agent_runs WHERE finished_at IS NULL") ==
          "0");
    CHECK(e.sql("SELECT DISTINCT attempts FROM jobs") == "1");
    auto left = processes_with("FAKE_AGENT_TRACE=" + e.dir.file("trace"));
    left.erase(std::remove(left.begin(), left.end(), e.daemon->pid()),
               left.end());
    CHECK(left.empty());
  }
}

TEST_CASE("at cutover, a live agent left by the legacy orchestrator is "
          "stopped before its job runs again") {
  engine e;
  auto id = e.job("developer", "[fake:success]");
  REQUIRE(test::unbox(e.store().claim_next_job({})).id == id);
  // The "Python" agent: a sleeping process carrying its job's id.
  child_process legacy{"/usr/bin/env",
                       {"ORCHD_JOB_ID=" + std::to_string(id), "sleep", "300"},
                       e.dir.path().string()};
  REQUIRE(
      test::eventually([&] { return looks_like_agent(legacy.pid(), id, {}); }));
  e.sql("UPDATE jobs SET pid = " + std::to_string(legacy.pid()) +
        " WHERE id = " + std::to_string(id));
  e.start();
  e.wait_done(id);
  CHECK(legacy.wait_exit() == 128 + SIGTERM);
  CHECK(e.daemon->output().find("still runs (started by an earlier "
                                "orchestrator)") != std::string::npos);
  CHECK(e.sql("SELECT outcome FROM agent_runs WHERE job_id = " +
              std::to_string(id)) == "success");
}

TEST_CASE("retention: aged rows, logs and worktrees go, recent ones and "
          "branches stay") {
  engine e;
  // A real clone, with a worktree per task as the task creator makes them.
  auto clone = e.dir.file("clone");
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"git", "-C", clone});
    auto r = run_command(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  };
  std::filesystem::create_directories(clone);
  git({"init", "-q", "-b", "main"});
  git({"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
       "--allow-empty", "-m", "start"});
  e.cfg["projects"] = {{{"repo", "acme/widgets"},
                        {"prefix", "ET"},
                        {"clone_path", clone},
                        {"plane_project_id", "p"}}};
  e.cfg["retention"] = {
      {"event_payload_days", 30}, {"run_log_days", 30}, {"worktree_days", 14}};
  auto worktree = [&](const std::string& item) {
    auto path = e.dir.file("worktrees/acme__widgets/" + item);
    git({"worktree", "add", "-q", "-b", "agent/" + item, path});
    auto t = test::unbox(e.store().create_task(new_task{"plane-" + item, item,
                                                        "acme/widgets",
                                                        "agent/" + item, item}))
                 .task;
    return std::make_pair(t.id, path);
  };
  auto [old_done, old_path] = worktree("ET-001");
  auto [new_done, new_path] = worktree("ET-002");
  auto [old_open, open_path] = worktree("ET-003");
  for (auto id : {old_done, new_done})
    test::unbox(e.store().set_stage(id, task_stage::done));
  e.store().add_event({"github", "check_run", "old", "g-1", true});
  e.store().add_event({"github", "check_run", "new", "g-2", true});
  e.store().add_event({"github", "check_run", "old, unhandled", "g-3"});
  {
    auto db = test::open_db(e.db_path);
    db->exec("UPDATE tasks SET updated_at = datetime('now', '-20 days') "
             "WHERE work_item_id IN ('ET-001', 'ET-003')");
    db->exec("UPDATE events SET timestamp = datetime('now', '-40 days') "
             "WHERE delivery_id IN ('g-1', 'g-3')");
  }
  // Run logs: one old, one recent, and a file that is not orchd's.
  std::filesystem::create_directories(e.dir.file("runs"));
  auto aged = [&](const std::string& name, int days) {
    std::ofstream{e.dir.file("runs/" + name)} << std::string(4096, 'x');
    struct timeval when[2] = {{::time(nullptr) - days * 86400, 0},
                              {::time(nullptr) - days * 86400, 0}};
    ::utimes(e.dir.file("runs/" + name).c_str(), when);
  };
  aged("7.log", 40);
  aged("7.task", 40);
  aged("8.log", 1);
  aged("notes.txt", 40);
  e.start();
  REQUIRE(e.daemon->wait_for_output("orchd.retention: removed the worktree"));
  e.wait_for("SELECT COUNT(*) FROM events WHERE payload = ''", "1");
  REQUIRE(e.daemon->wait_for_output("orchd.retention: removed 2 run logs"));
  CHECK_FALSE(std::filesystem::exists(old_path));
  CHECK(std::filesystem::exists(new_path + "/.git"));
  CHECK(std::filesystem::exists(open_path + "/.git"));
  CHECK(e.sql("SELECT delivery_id FROM events WHERE payload = ''") == "g-1");
  CHECK_FALSE(std::filesystem::exists(e.dir.file("runs/7.log")));
  CHECK_FALSE(std::filesystem::exists(e.dir.file("runs/7.task")));
  CHECK(std::filesystem::exists(e.dir.file("runs/8.log")));
  CHECK(std::filesystem::exists(e.dir.file("runs/notes.txt")));
  // The branch and its commits stay; git no longer lists the worktree.
  CHECK(run_command(
            {"git", "-C", clone, "rev-parse", "--verify", "-q", "agent/ET-001"})
            .exit_code == 0);
  CHECK(run_command({"git", "-C", clone, "worktree", "list"})
            .output.find("ET-001") == std::string::npos);
  CHECK(
      e.daemon->output().find("removed the worktree of ET-001 (done more "
                              "than 14 days ago; branch agent/ET-001 kept)") !=
      std::string::npos);
}
