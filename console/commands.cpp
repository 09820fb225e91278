// The console's commands: each asks the admin API and shows the answer as
// a table (people) or as the daemon's JSON (`--json`, scripts).
#include "console/commands.hpp"

#include "console/kit.hpp"

#include "actors/logic/card.hpp"
#include "console/table.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

namespace orchd::console {

namespace {

// Set by SIGINT while `watch` or `log --follow` runs.
volatile std::sig_atomic_t interrupted = 0;

extern "C" void on_interrupt(int) {
  interrupted = 1;
}

// Ctrl-C ends the loop (not the console) while it lives.
struct interruptible {
  struct sigaction old {};
  interruptible() {
    interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
  }
  ~interruptible() { sigaction(SIGINT, &old, nullptr); }
};

// Sleeps up to `d`, waking early on Ctrl-C.
void nap(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!interrupted && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
}

std::string duration(int64_t s) {
  if (s < 60)
    return std::to_string(s) + "s";
  if (s < 3600)
    return std::to_string(s / 60) + "m " + std::to_string(s % 60) + "s";
  if (s < 86400)
    return std::to_string(s / 3600) + "h " + std::to_string(s / 60 % 60) + "m";
  return std::to_string(s / 86400) + "d " + std::to_string(s / 3600 % 24) + "h";
}

colour health_colour(const std::string& h) {
  return h == "ok"        ? colour::green
         : h == "timeout" ? colour::yellow
                          : colour::red;
}

colour status_colour(const std::string& s) {
  return s == "done"      ? colour::green
         : s == "failed"  ? colour::red
         : s == "running" ? colour::yellow
                          : colour::none;
}

// -- showing ----------------------------------------------------------------

void show_actors(context& cx, const json& body) {
  table t{{"ACTOR", "HEALTH", "MAILBOX", "HANDLED", "LAST ERROR"}};
  for (auto& a : body["actors"]) {
    auto health = field(a, "health");
    t.add({field(a, "name"), health, field(a, "mailbox"), field(a, "handled"),
           a["last_error"].is_null() ? "-" : clip(text(a["last_error"]), 70)},
          {colour::none, health_colour(health)});
  }
  cx.out << t.render(cx.coloured);
}

void show_actor(context& cx, const json& a) {
  auto health = field(a, "health");
  cx.out << field(a, "name") << "  "
         << (cx.coloured ? paint(health, health_colour(health)) : health)
         << "  mailbox " << field(a, "mailbox") << "  handled "
         << field(a, "handled") << "\n";
  if (!a["last_error"].is_null())
    cx.out << "last error: "
           << (a["last_error_at"].is_number()
                   ? card::stamp_of(a["last_error_at"].get<int64_t>()) + "  "
                   : std::string{})
           << text(a["last_error"]) << "\n";
  if (a.contains("state") && a["state"].is_object())
    for (auto& [k, v] : a["state"].items())
      cx.out << "  " << k << ": " << text(v) << "\n";
}

void show_jobs(context& cx, const json& jobs) {
  table t{
      {"JOB", "STATUS", "AGENT", "TASK", "REPO", "TRIES", "CREATED", "ERROR"}};
  for (auto& j : jobs) {
    auto status = field(j, "status");
    t.add({field(j, "id"), status, field(j, "agent"), field(j, "task_id"),
           field(j, "repo"),
           field(j, "attempts") + "/" + field(j, "max_attempts"),
           field(j, "created_at"),
           j["error"].is_null() ? "" : clip(text(j["error"]), 50)},
          {colour::none, status_colour(status)});
  }
  cx.out << t.render(cx.coloured);
}

void show_freezes(context& cx, const json& body) {
  if (body["freezes"].empty()) {
    cx.out << "no repo is frozen\n";
    return;
  }
  table t{{"REPO", "SINCE", "WORK ITEM", "REASON"}};
  for (auto& f : body["freezes"])
    t.add({field(f, "repo"), field(f, "frozen_at"), field(f, "work_item_id"),
           clip(field(f, "reason"), 60)},
          {colour::red});
  cx.out << t.render(cx.coloured);
}

// -- the commands ------------------------------------------------------------

int status_screen(context& cx, std::ostream& out) {
  auto actors = cx.api.get("/actors");
  if (auto code = check(cx, actors); code != ok)
    return code;
  auto queue = cx.api.get("/queue");
  if (auto code = check(cx, queue); code != ok)
    return code;
  auto freezes = cx.api.get("/freezes");
  if (auto code = check(cx, freezes); code != ok)
    return code;
  if (cx.json) {
    out << json{{"actors", actors.body},
                {"queue", queue.body},
                {"freezes", freezes.body}}
               .dump(2)
        << "\n";
    return ok;
  }
  auto& a = actors.body;
  int healthy = 0;
  int slow = 0; // timeout or error
  int down = 0;
  std::vector<std::string> errors;
  for (auto& x : a["actors"]) {
    auto h = field(x, "health");
    (h == "ok" ? healthy : h == "down" ? down : slow)++;
    if (!x["last_error"].is_null())
      errors.push_back(
          (x["last_error_at"].is_number()
               ? card::stamp_of(x["last_error_at"].get<int64_t>()) + "  "
               : std::string{}) +
          field(x, "name") + ": " + clip(text(x["last_error"]), 80));
  }
  out << "orchd " << field(a, "version") << " at " << cx.api.base() << ", up "
      << duration(a.value("uptime_s", int64_t{0})) << "\n";
  auto health = std::to_string(healthy) + " ok, " + std::to_string(slow) +
                " not answering, " + std::to_string(down) + " down";
  out << "actors:  "
      << (cx.coloured
              ? paint(health, slow + down == 0 ? colour::green : colour::red)
              : health)
      << "\n";
  auto& c = queue.body["counts"];
  out << "jobs:    " << field(c, "queued") << " queued (" << field(c, "held")
      << " held), " << field(c, "running") << " running, " << field(c, "done")
      << " done, " << field(c, "failed") << " failed\n";
  auto& f = freezes.body["freezes"];
  out << "freezes: ";
  if (f.empty())
    out << "none\n";
  for (size_t i = 0; i < f.size(); ++i)
    out << (i ? ", " : "") << field(f[i], "repo") << " since "
        << field(f[i], "frozen_at") << (i + 1 == f.size() ? "\n" : "");
  out << "\n";
  context shown{cx.api, cx.json, cx.coloured, out, cx.err};
  show_actors(shown, a);
  if (!queue.body["running"].empty()) {
    out << "\nrunning:\n";
    show_jobs(shown, queue.body["running"]);
  }
  if (!errors.empty()) {
    out << "\nlast errors:\n";
    for (auto& e : errors)
      out << "  " << e << "\n";
  }
  return ok;
}

int cmd_status(context& cx, std::vector<std::string>&) {
  return status_screen(cx, cx.out);
}

int cmd_actors(context& cx, std::vector<std::string>& args) {
  if (args.empty())
    return ask(cx, cx.api.get("/actors"),
               [&](const json& b) { show_actors(cx, b); });
  return ask(cx, cx.api.get("/actors/" + args[0]),
             [&](const json& b) { show_actor(cx, b); });
}

int cmd_tasks(context& cx, std::vector<std::string>& args) {
  std::string stage;
  take_option(args, "--stage", stage);
  if (!args.empty())
    return usage_error(cx, "tasks [--stage S]");
  auto r = cx.api.get("/tasks");
  if (auto code = check(cx, r); code != ok)
    return code;
  json tasks = json::array();
  for (auto& t : r.body["tasks"])
    if (stage.empty() || field(t, "stage") == stage)
      tasks.push_back(t);
  if (cx.json) {
    cx.out << json{{"tasks", tasks}}.dump(2) << "\n";
    return ok;
  }
  table t{{"TASK", "WORK ITEM", "REPO", "STAGE", "IN STAGE", "TITLE"}};
  for (auto& x : tasks)
    t.add({field(x, "id"), field(x, "work_item_id"), field(x, "repo"),
           field(x, "stage"), duration(x.value("age_s", int64_t{0})),
           clip(field(x, "title"), 50)});
  cx.out << t.render(cx.coloured);
  if (tasks.empty())
    cx.out << "(no unfinished task" << (stage.empty() ? "" : " in " + stage)
           << ")\n";
  return ok;
}

int cmd_task(context& cx, std::vector<std::string>& args) {
  if (args.size() != 1 || !is_id(args[0]))
    return usage_error(cx, "task ID");
  return ask(cx, cx.api.get("/tasks/" + args[0]), [&](const json& b) {
    auto& task = b["task"].is_object() ? b["task"] : b;
    cx.out << "task " << field(task, "id") << "  "
           << field(task, "work_item_id") << "  " << field(task, "repo") << "  "
           << field(task, "branch") << "\n"
           << "title:  " << field(task, "title") << "\n"
           << "stage:  " << field(task, "stage");
    if (!b["waiting"].is_null())
      cx.out << " (waiting: " << text(b["waiting"]) << ")";
    if (!b["stuck_reason"].is_null())
      cx.out << " (stuck: " << text(b["stuck_reason"]) << ")";
    cx.out << "\ncost:   $" << field(b, "cost_usd") << "\n";
    if (!b["depends_on"].empty() || !b["dependents"].empty())
      cx.out << "deps:   waits for " << text(b["depends_on"])
             << ", waited for by " << text(b["dependents"]) << "\n";
    cx.out << "cards:  current " << field(task, "tracker_message_id")
           << ", open " << text(b["open_cards"]) << "\n";
    table h{{"FROM", "TO", "AT"}};
    for (auto& s : b["stage_history"])
      h.add({field(s, "from"), field(s, "to"), field(s, "at")});
    if (!h.empty())
      cx.out << "\nstages:\n" << h.render(cx.coloured);
    cx.out << "\njobs:\n";
    show_jobs(cx, b["jobs"]);
    table runs{{"RUN", "JOB", "AGENT", "STARTED", "FINISHED", "OUTCOME",
                "TOKENS IN/OUT", "COST"}};
    for (auto& r : b["runs"]) {
      auto& tk = r["tokens"];
      runs.add(
          {field(r, "id"), field(r, "job_id"), field(r, "agent"),
           field(r, "started_at"), field(r, "finished_at"), field(r, "outcome"),
           field(tk, "input") + "/" + field(tk, "output"),
           r["cost_usd"].is_null() ? "-" : "$" + text(r["cost_usd"])},
          {colour::none, colour::none, colour::none, colour::none, colour::none,
           status_colour(field(r, "outcome") == "success" ? "done"
                                                          : "failed")});
    }
    cx.out << "\nruns:\n" << runs.render(cx.coloured);
  });
}

int cmd_deps(context& cx, std::vector<std::string>& args) {
  if (args.size() != 1 || !is_id(args[0]))
    return usage_error(cx, "deps TASK");
  auto r = cx.api.get("/tasks/" + args[0]);
  if (auto code = check(cx, r); code != ok)
    return code;
  json deps{{"task_id", std::stoll(args[0])},
            {"depends_on", r.body["depends_on"]},
            {"dependents", r.body["dependents"]}};
  if (cx.json) {
    cx.out << deps.dump(2) << "\n";
    return ok;
  }
  table t{{"TASK", "RELATION", "STAGE"}};
  for (auto [key, relation] : {std::pair{"depends_on", "waits for it"},
                               std::pair{"dependents", "waits for this"}})
    for (auto& id : deps[key]) {
      auto other = cx.api.get("/tasks/" + text(id));
      auto stage =
          other.ok() ? field(other.body["task"], "stage") : other.refusal();
      t.add({text(id), relation, stage});
    }
  if (t.empty())
    cx.out << "task " << args[0] << " has no dependencies\n";
  else
    cx.out << t.render(cx.coloured);
  return ok;
}

int cmd_jobs(context& cx, std::vector<std::string>& args) {
  std::string status;
  std::string limit = "50";
  take_option(args, "--status", status);
  take_option(args, "--limit", limit);
  if (!args.empty())
    return usage_error(cx, "jobs [--status S] [--limit N]");
  std::string path = "/jobs?limit=" + limit;
  if (!status.empty())
    path += "&status=" + status;
  return ask(cx, cx.api.get(path),
             [&](const json& b) { show_jobs(cx, b["jobs"]); });
}

int cmd_job(context& cx, std::vector<std::string>& args) {
  if (args.size() != 1 || !is_id(args[0]))
    return usage_error(cx, "job ID");
  return ask(cx, cx.api.get("/jobs/" + args[0]), [&](const json& j) {
    for (auto& [k, v] : j.items())
      cx.out << k << ": " << text(v) << "\n";
  });
}

int cmd_log(context& cx, std::vector<std::string>& args) {
  bool follow = take_flag(args, "--follow") || take_flag(args, "-f");
  if (args.size() != 1 || !is_id(args[0]))
    return usage_error(cx, "log JOB [--follow]");
  interruptible guard;
  int64_t offset = 0;
  for (;;) {
    auto r = cx.api.get("/jobs/" + args[0] +
                        "/log?offset=" + std::to_string(offset));
    if (auto code = check(cx, r); code != ok)
      return code;
    cx.out << r.text << std::flush;
    bool more = r.next_offset > offset;
    offset = r.next_offset;
    if (more)
      continue; // a slice at the size limit: the rest at once
    if (!follow || r.finished || interrupted)
      return ok;
    nap(std::chrono::milliseconds{500});
    if (interrupted)
      return ok;
  }
}

int cmd_freezes(context& cx, std::vector<std::string>& args) {
  if (!args.empty())
    return usage_error(cx, "freezes");
  return ask(cx, cx.api.get("/freezes"),
             [&](const json& b) { show_freezes(cx, b); });
}

int cmd_unfreeze(context& cx, std::vector<std::string>& args) {
  if (args.size() != 1)
    return usage_error(cx, "unfreeze REPO");
  return post_action(cx, "/serial-gate/unfreeze", json{{"repo", args[0]}},
                     [](const json& b) {
                       return "unfrozen " + field(b, "repo") + " (" +
                              field(b, "cleared") + " freeze(s) cleared)";
                     });
}

int job_action(context& cx, std::vector<std::string>& args, const char* verb) {
  if (args.size() != 1 || !is_id(args[0]))
    return usage_error(cx, std::string{verb} + " JOB");
  return post_action(
      cx, "/jobs/" + args[0] + "/" + verb, json::object(), [](const json& j) {
        return "job " + field(j, "id") + " is now " + field(j, "status") +
               (j["error"].is_null() ? "" : " (" + text(j["error"]) + ")");
      });
}

int cmd_cancel(context& cx, std::vector<std::string>& args) {
  return job_action(cx, args, "cancel");
}

int cmd_requeue(context& cx, std::vector<std::string>& args) {
  return job_action(cx, args, "requeue");
}

int cmd_backup(context& cx, std::vector<std::string>& args) {
  if (args.size() != 1)
    return usage_error(cx, "backup PATH");
  // The daemon writes the file: a relative path is this shell's.
  std::error_code ec;
  auto path = std::filesystem::absolute(args[0], ec).lexically_normal();
  return post_action(
      cx, "/backup", json{{"path", path.string()}}, [](const json& b) {
        return "backed up to " + field(b, "path") + " (" + field(b, "bytes") +
               " bytes, " + field(b, "pages") + " pages)";
      });
}

int cmd_watch(context& cx, std::vector<std::string>& args) {
  std::string every = "2";
  take_option(args, "--interval", every);
  if (!args.empty() || every.empty() ||
      every.find_first_not_of("0123456789") != std::string::npos ||
      every.size() > 4 || std::stoi(every) < 1)
    return usage_error(cx, "watch [--interval SECONDS]");
  interruptible guard;
  while (!interrupted) {
    std::ostringstream screen;
    auto code = status_screen(cx, screen);
    if (code == usage)
      return code;
    // Clear the screen only on a terminal; a pipe gets one frame after
    // another.
    if (cx.coloured)
      cx.out << "\033[H\033[2J";
    cx.out << screen.str();
    if (code != ok)
      cx.out << "(retrying)\n";
    cx.out << "\nrefreshing every " << every << " s; Ctrl-C stops\n"
           << std::flush;
    nap(std::chrono::seconds{std::stoi(every)});
  }
  return ok;
}

int cmd_help(context& cx, std::vector<std::string>&);

const std::vector<command>& table_of_commands() {
  static const std::vector<command> all{
      {"status", "", "version, uptime, actors' health, jobs, freezes, errors",
       cmd_status},
      {"actors", "[NAME]", "every actor's status, or one's in full",
       cmd_actors},
      {"tasks", "[--stage S]", "unfinished tasks", cmd_tasks},
      {"task", "ID",
       "a task: stages, jobs, runs with tokens and cost, deps, "
       "cards",
       cmd_task},
      {"jobs", "[--status S] [--limit N]", "the newest jobs", cmd_jobs},
      {"job", "ID", "one job", cmd_job},
      {"costs", "[--by K] [--since DAY] [--until DAY]",
       "what runs cost, by task, stage, agent, model, project or day",
       cmd_costs},
      {"budget", "TASK USD", "set a task's budget, releasing its held jobs",
       cmd_budget},
      {"log", "JOB [--follow]", "the agent's output (streamed with --follow)",
       cmd_log},
      {"freezes", "", "frozen repos", cmd_freezes},
      {"unfreeze", "REPO", "clear a repo's freeze", cmd_unfreeze},
      {"cancel", "JOB", "cancel a queued or running job", cmd_cancel},
      {"requeue", "JOB", "put a failed job back with fresh attempts",
       cmd_requeue},
      {"deps", "TASK", "what a task waits for and what waits for it", cmd_deps},
      {"watch", "[--interval S]", "a refreshing overview until Ctrl-C",
       cmd_watch},
      {"backup", "PATH", "a consistent copy of the live database (new file)",
       cmd_backup},
      {"help", "", "this list", cmd_help},
  };
  return all;
}

int cmd_help(context& cx, std::vector<std::string>&) {
  cx.out << help_text();
  return ok;
}

} // namespace

int usage_error(context& cx, const std::string& usage_line) {
  cx.err << "usage: " << usage_line << "\n";
  return usage;
}

const std::vector<command>& commands() {
  return table_of_commands();
}

std::string help_text() {
  std::ostringstream out;
  table t{{"COMMAND", "", "WHAT"}};
  for (auto& c : commands())
    t.add({c.name, c.args, c.what});
  out << t.render(false);
  return out.str();
}

int run_command(context& cx, std::vector<std::string> words) {
  if (words.empty())
    return ok;
  auto name = words.front();
  words.erase(words.begin());
  for (auto& c : commands())
    if (c.name == name)
      return c.run(cx, words);
  cx.err << "orchd console: no command " << name << " (try help)\n";
  return usage;
}

} // namespace orchd::console
