// The console's cost commands: the ledger as a table, a task's budget.
#include "actors/logic/economics.hpp"
#include "console/kit.hpp"
#include "console/table.hpp"

#include <cstdio>
#include <cstdlib>

namespace orchd::console {

namespace {

std::string dollars(const json& j) {
  return economics::dollars(j.is_number() ? j.get<double>() : 0);
}

void add_cost_row(table& t, const std::string& key, const json& x) {
  auto& tok = x["tokens"];
  char share[16];
  std::snprintf(share, sizeof share, "%.0f%%",
                100 * x.value("cache_read_share", 0.0));
  t.add({key, field(x, "runs"), dollars(x["cost_usd"]), field(tok, "input"),
         field(tok, "output"), field(tok, "cache_read"),
         field(tok, "cache_creation"), share});
}

} // namespace

int cmd_costs(context& cx, std::vector<std::string>& args) {
  std::string by = "agent";
  std::string since;
  std::string until;
  take_option(args, "--by", by);
  take_option(args, "--since", since);
  take_option(args, "--until", until);
  if (!args.empty())
    return usage_error(cx, "costs [--by K] [--since DAY] [--until DAY]");
  std::string path = "/costs?by=" + by;
  if (!since.empty())
    path += "&since=" + since;
  if (!until.empty())
    path += "&until=" + until;
  return ask(cx, cx.api.get(path), [&](const json& b) {
    table t{{clip(by, 20), "RUNS", "COST", "INPUT", "OUTPUT", "CACHE READ",
             "CACHE WRITE", "CACHED"}};
    for (auto& x : b["rows"])
      add_cost_row(t, field(x, "key").empty() ? "(none)" : field(x, "key"), x);
    add_cost_row(t, "total", b["total"]);
    cx.out << t.render(cx.coloured);
  });
}

int cmd_budget(context& cx, std::vector<std::string>& args) {
  char* end = nullptr;
  double usd = args.size() == 2 ? std::strtod(args[1].c_str(), &end) : 0;
  if (args.size() != 2 || !is_id(args[0]) || end == nullptr || *end != '\0' ||
      !(usd > 0))
    return usage_error(cx, "budget TASK USD");
  return post_action(cx, "/tasks/" + args[0] + "/budget",
                     json{{"budget_usd", usd}}, [](const json& b) {
                       return "task " + field(b, "task_id") + ": budget " +
                              dollars(b["budget_usd"]) + ", " +
                              field(b, "released") + " held job(s) released";
                     });
}

} // namespace orchd::console
