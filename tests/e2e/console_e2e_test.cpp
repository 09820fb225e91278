// `orchd console` against a running daemon (every command, its tables and
// its --json, its exit codes), the interactive prompt through a
// pseudo-terminal, GET /metrics parsed as Prometheus text with counters
// that move, and JSON log lines.
#include "tests/support/pipeline_world.hpp"

#include <csignal>
#include <regex>
#include <set>

using namespace orchd;
using namespace orchd::test;
using json = nlohmann::json;

namespace {

struct console_result {
  int code = -1;
  std::string out;
  json body() const { return json::parse(out); }
  bool says(const std::string& text) const {
    return out.find(text) != std::string::npos;
  }
};

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

// Runs `orchd console --url <daemon> args...` with the admin token set.
console_result console(const pipeline_world& w, std::vector<std::string> args,
                       const std::string& token = admin_token) {
  std::vector<std::string> all{"console", "--url", url_of(w.port)};
  all.insert(all.end(), args.begin(), args.end());
  setenv("ORCHD_ADMIN_TOKEN", token.c_str(), 1);
  auto [code, out] = run_to_end(ORCHD_BINARY, all, w.dir.path().string());
  unsetenv("ORCHD_ADMIN_TOKEN");
  return {code, out};
}

std::string get(uint16_t port, const std::string& target,
                const std::string& headers = {}) {
  connection c{port};
  c.send_raw("GET " + target + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n");
  return c.read_response();
}

// -- a small Prometheus text (0.0.4) parser -----------------------------------

struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct exposition {
  std::map<std::string, std::string> types;
  std::vector<sample> samples;

  // The sum of a family's samples whose labels include `want`.
  double sum(const std::string& name,
             const std::map<std::string, std::string>& want = {}) const {
    double total = 0;
    for (auto& s : samples) {
      if (s.name != name)
        continue;
      bool match = true;
      for (auto& [k, v] : want)
        match = match && s.labels.count(k) && s.labels.at(k) == v;
      if (match)
        total += s.value;
    }
    return total;
  }
};

// Parses the text, failing the test at the first line that is not valid.
exposition parse_metrics(const std::string& text) {
  exposition out;
  static const std::regex help{R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)"};
  static const std::regex type{
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)"};
  static const std::regex line{
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+0-9.eE]+|\+Inf|-Inf|NaN)$)"};
  static const std::regex label{
      R"(([a-zA-Z_][a-zA-Z0-9_]*)="((\\.|[^"\\])*)\",?)"};
  std::istringstream in{text};
  std::string l;
  while (std::getline(in, l)) {
    std::smatch m;
    if (std::regex_match(l, m, help))
      continue;
    if (std::regex_match(l, m, type)) {
      REQUIRE_MESSAGE(out.types.count(m[1]) == 0, "TYPE twice: " << l);
      out.types[m[1]] = m[2];
      continue;
    }
    REQUIRE_MESSAGE(std::regex_match(l, m, line), "not a sample: " << l);
    sample s;
    s.name = m[1];
    auto family = s.name;
    for (auto suffix : {"_bucket", "_sum", "_count"}) {
      std::string sfx = suffix;
      if (family.size() > sfx.size() &&
          family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          out.types.count(family.substr(0, family.size() - sfx.size())) &&
          out.types[family.substr(0, family.size() - sfx.size())] ==
              "histogram")
        family = family.substr(0, family.size() - sfx.size());
    }
    REQUIRE_MESSAGE(out.types.count(family), "no TYPE before " << l);
    auto labels = m[3].str();
    for (std::sregex_iterator i{labels.begin(), labels.end(), label}, end;
         i != end; ++i)
      s.labels[(*i)[1]] = (*i)[2];
    s.value = m[4] == "+Inf" ? INFINITY : std::stod(m[4]);
    out.samples.push_back(std::move(s));
  }
  return out;
}

exposition scrape(uint16_t port, const std::string& headers = {}) {
  auto res = get(port, "/metrics", headers);
  REQUIRE_MESSAGE(status_of(res) == 200, res);
  CHECK(res.find("Content-Type: text/plain; version=0.0.4") !=
        std::string::npos);
  return parse_metrics(res.substr(res.find("\r\n\r\n") + 4));
}

} // namespace

TEST_CASE("console: every command against a running daemon") {
  pipeline_world w;
  // One task whose analyst runs long: a running job, a runner, a log.
  w.work_item("item-c", 5, "Console check [analyst_fake:slow]", "In Progress",
              "started");
  w.wait_for("SELECT status, pid IS NOT NULL FROM jobs", "running|1\n");

  auto status = console(w, {"status"});
  CHECK(status.code == 0);
  CHECK(status.says("orchd " ORCHD_VERSION " at " + url_of(w.port)));
  CHECK(status.says("1 running"));
  CHECK(status.says("scheduler"));
  auto status_json = console(w, {"status", "--json"});
  REQUIRE(status_json.code == 0);
  auto s = status_json.body();
  CHECK(s["queue"]["counts"]["running"] == 1);
  std::set<std::string> names;
  for (auto& a : s["actors"]["actors"]) {
    names.insert(a["name"].get<std::string>());
    CHECK_MESSAGE(a["health"] == "ok", a.dump());
  }
  for (auto name : {"storage", "intake", "scheduler", "reaper",
                    "freeze_manager", "pipeline", "tracker", "runner/1"})
    CHECK_MESSAGE(names.count(name), name);

  auto actors = console(w, {"actors"});
  CHECK(actors.code == 0);
  CHECK(actors.says("runner/1"));
  auto runner = console(w, {"actors", "runner/1", "--json"});
  REQUIRE(runner.code == 0);
  CHECK(runner.body()["state"]["job"] == 1);
  CHECK(runner.body()["state"]["pid"].get<int64_t>() > 0);
  CHECK(runner.body()["state"]["agent"] == "analyst");
  auto sched = console(w, {"actors", "scheduler", "--json"});
  REQUIRE(sched.code == 0);
  CHECK(sched.body()["state"]["slots_used"] == 1);
  CHECK(console(w, {"actors", "nobody"}).code == 1);

  auto tasks = console(w, {"tasks"});
  CHECK(tasks.code == 0);
  CHECK(tasks.says("ET-005"));
  CHECK(console(w, {"tasks", "--stage", "analysis", "--json"})
            .body()["tasks"]
            .size() == 1);
  CHECK(console(w, {"tasks", "--stage", "review", "--json"})
            .body()["tasks"]
            .empty());

  auto task = console(w, {"task", "1", "--json"});
  REQUIRE(task.code == 0);
  CHECK(task.body()["jobs"][0]["id"] == 1);
  CHECK(task.body()["runs"].size() == 1);
  CHECK(console(w, {"task", "1"}).says("analyst"));
  CHECK(console(w, {"task", "99"}).code == 1);

  auto jobs = console(w, {"jobs", "--status", "running", "--json"});
  REQUIRE(jobs.code == 0);
  CHECK(jobs.body()["jobs"].size() == 1);
  CHECK(console(w, {"jobs"}).says("analyst"));
  auto bad_status = console(w, {"jobs", "--status", "bogus"});
  CHECK(bad_status.code == 1);
  CHECK(bad_status.says("status must be"));
  auto job = console(w, {"job", "1", "--json"});
  REQUIRE(job.code == 0);
  CHECK(job.body()["status"] == "running");

  // The agent's output so far (the fake agent says it started).
  auto log = console(w, {"log", "1"});
  CHECK(log.code == 0);

  auto freezes = console(w, {"freezes"});
  CHECK(freezes.code == 0);
  CHECK(freezes.says("no repo is frozen"));
  auto unfreeze = console(w, {"unfreeze", "acme/widgets"});
  CHECK(unfreeze.code == 1);
  CHECK(unfreeze.says("not frozen"));

  auto deps = console(w, {"deps", "1", "--json"});
  REQUIRE(deps.code == 0);
  CHECK(deps.body()["depends_on"].empty());
  CHECK(console(w, {"deps", "1"}).says("no dependencies"));

  // log --follow streams until the job ends: cancel it meanwhile.
  setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
  child_process follow{
      ORCHD_BINARY,
      {"console", "--url", url_of(w.port), "log", "1", "--follow"},
      w.dir.path().string()};
  unsetenv("ORCHD_ADMIN_TOKEN");
  auto cancel = console(w, {"cancel", "1"});
  CHECK(cancel.code == 0);
  CHECK(cancel.says("job 1 is now failed"));
  CHECK(follow.wait_exit() == 0);
  CHECK(console(w, {"cancel", "1"}).code == 1); // finished: 409
  auto requeue = console(w, {"requeue", "1"});
  CHECK(requeue.code == 0);
  CHECK(requeue.says("job 1 is now"));
  // It runs again; cancelled again, no agent outlives the test.
  w.wait_for("SELECT status, run_id, pid IS NOT NULL FROM jobs",
             "running|2|1\n");
  CHECK(console(w, {"cancel", "1"}).code == 0);
  w.wait_for("SELECT outcome FROM agent_runs WHERE id = 2", "cancelled\n");

  auto copy = w.dir.file("console-copy.db");
  auto backup = console(w, {"backup", copy});
  CHECK(backup.code == 0);
  CHECK(backup.says("backed up to " + copy));
  {
    auto db = open_db(copy);
    CHECK(sql_rows(*db, "PRAGMA integrity_check") == "ok\n");
    CHECK(sql_value(*db, "SELECT COUNT(*) FROM tasks") == "1");
  }
  CHECK(console(w, {"backup", copy}).code == 1); // never overwrites

  // watch refreshes until Ctrl-C, then exits 0.
  setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
  child_process watch{
      ORCHD_BINARY,
      {"console", "--url", url_of(w.port), "watch", "--interval", "1"},
      w.dir.path().string()};
  unsetenv("ORCHD_ADMIN_TOKEN");
  CHECK(watch.wait_for_output("refreshing every 1 s"));
  watch.signal(SIGINT);
  CHECK(watch.wait_exit() == 0);

  // Usage, a wrong token, a stopped daemon.
  CHECK(console(w, {"frobnicate"}).code == 2);
  CHECK(console(w, {"task", "abc"}).code == 2);
  auto wrong = console(w, {"status"}, "not-the-token-at-all-not-the-token");
  CHECK(wrong.code == 1);
  CHECK(wrong.says("admin routes need Authorization"));
  auto port = w.port;
  CHECK(w.stop() == 0);
  auto gone = console(w, {"status"});
  CHECK(gone.code == 3);
  CHECK(gone.says("cannot reach the daemon at " + url_of(port)));
}

TEST_CASE("console: the prompt through a pseudo-terminal") {
  pipeline_world w;
  // `script` gives the console a terminal; two commands, then end of input.
  setenv("ORCHD_ADMIN_TOKEN", admin_token.c_str(), 1);
  std::string home = getenv("HOME") ? getenv("HOME") : "";
  setenv("HOME", w.dir.path().c_str(), 1);
  auto command = std::string{ORCHD_BINARY} + " console --url " + url_of(w.port);
  auto [code, out] = run_to_end(
      "/bin/sh",
      {"-c", "printf 'status\\nactors scheduler\\n' | script -qec '" + command +
                 "' /dev/null"},
      w.dir.path().string());
  unsetenv("ORCHD_ADMIN_TOKEN");
  setenv("HOME", home.c_str(), 1);
  CHECK_MESSAGE(code == 0, out);
  CHECK(out.find("orchd> status") != std::string::npos);
  CHECK(out.find("actors:") != std::string::npos);
  CHECK(out.find("orchd> actors scheduler") != std::string::npos);
  CHECK(out.find("slots_free: 4") != std::string::npos);
  // The history was kept for the next session.
  std::ifstream history{w.dir.file(".orchd_console_history")};
  std::string all{std::istreambuf_iterator<char>{history}, {}};
  // (libedit encodes blanks in the file: look for the word.)
  CHECK(all.find("scheduler") != std::string::npos);
}

TEST_CASE("metrics: Prometheus text whose counters move with the work") {
  pipeline_world w;
  auto before = scrape(w.port);
  CHECK(before.types["orchd_webhooks_total"] == "counter");
  CHECK(before.types["orchd_agent_duration_seconds"] == "histogram");
  CHECK(before.types["orchd_tasks"] == "gauge");
  CHECK(before.sum("orchd_webhooks_total") == 0);
  w.work_item("item-m", 8, "Metered", "In Progress", "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  // A refused delivery counts as rejected, with why.
  CHECK(status_of(w.post("/webhooks/plane",
                         "X-Plane-Event: issue\r\nX-Plane-Delivery: bad-1\r\n"
                         "X-Plane-Signature: 00\r\n",
                         "{}")) == 401);
  auto after = scrape(w.port);
  CHECK(after.sum("orchd_webhooks_total",
                  {{"source", "plane"}, {"answer", "new"}}) == 1);
  CHECK(after.sum("orchd_webhooks_total", {{"source", "plane"},
                                           {"answer", "rejected"},
                                           {"reason", "bad_signature"}}) == 1);
  CHECK(after.sum("orchd_claims_total") >= 1);
  CHECK(after.sum("orchd_agent_runs_total",
                  {{"agent", "analyst"}, {"outcome", "success"}}) == 1);
  CHECK(after.sum("orchd_agent_duration_seconds_count",
                  {{"agent", "analyst"}}) == 1);
  CHECK(after.sum("orchd_job_wait_seconds_count") >= 1);
  CHECK(after.sum("orchd_storage_commit_seconds_count") > 0);
  CHECK(after.sum("orchd_tasks", {{"stage", "analysis"}}) == 1);
  CHECK(after.sum("orchd_jobs", {{"status", "done"}}) == 1);
  CHECK(after.sum("orchd_events_unhandled") == 0);
  CHECK(after.sum("orchd_http_requests_total",
                  {{"route", "/metrics"}, {"status", "200"}}) == 1);
  CHECK(after.sum("orchd_mailbox_depth", {{"actor", "scheduler"}}) >= 0);
  CHECK(after.samples.size() > before.samples.size());
  // The database's gauges are exact after a restart; the counters start
  // again.
  w.stop();
  w.start();
  auto again = scrape(w.port);
  CHECK(again.sum("orchd_tasks", {{"stage", "analysis"}}) == 1);
  CHECK(again.sum("orchd_jobs", {{"status", "done"}}) == 1);
  CHECK(again.sum("orchd_webhooks_total") == 0);
}

TEST_CASE("metrics: the token can be required; logs as JSON lines") {
  pipeline_world w{
      {}, json{{"metrics", {{"require_token", true}}}, {"log_format", "json"}}};
  CHECK(status_of(get(w.port, "/metrics")) == 401);
  scrape(w.port, "Authorization: Bearer " + admin_token + "\r\n");
  w.work_item("item-j", 9, "Logged", "In Progress", "started");
  w.wait_for("SELECT waiting FROM tasks", "human_review\n");
  CHECK(status_of(get(w.port, "/nowhere")) == 404);
  w.stop();
  std::istringstream lines{w.proc->output()};
  std::string line;
  int n = 0;
  std::set<std::string> events;
  while (std::getline(lines, line)) {
    auto j = json::parse(line, nullptr, false);
    REQUIRE_MESSAGE(j.is_object(), "not a JSON line: " << line);
    CHECK(j.contains("ts"));
    CHECK(j.contains("level"));
    CHECK(j.contains("actor"));
    CHECK(j["msg"].is_string());
    if (j.contains("event"))
      events.insert(j["event"].get<std::string>());
    if (j.value("event", "") == "agent_start") {
      CHECK(j["actor"] == "runner");
      CHECK(j["job"] == 1);
    }
    CHECK(line.find(admin_token) == std::string::npos);
    ++n;
  }
  CHECK(n > 5);
  for (auto e : {"agent_start", "agent_end", "transition", "rejected"})
    CHECK_MESSAGE(events.count(e), e);
}
