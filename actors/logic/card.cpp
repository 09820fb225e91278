#include "actors/logic/card.hpp"

#include "actors/core/states.hpp"
#include "actors/logic/economics.hpp"
#include "actors/logic/html.hpp"
#include "actors/logic/pipeline.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <map>

namespace orchd::card {

namespace {

// The stages a card lists, in order; the human gate (no stage of its own)
// sits after analysis.
struct row {
  const char* name;
  task_stage stage;
};

constexpr std::array<row, 8> rows = {{
    {"analysis", task_stage::analysis},
    {"approval", task_stage::unknown},
    {"architecture", task_stage::architecture},
    {"development", task_stage::development},
    {"ci", task_stage::ci},
    {"review", task_stage::review},
    {"deploy", task_stage::deploy},
    {"verification", task_stage::verification},
}};

// A stage's place in the walk: rows before it are done (done: every row;
// created, setup_failed: none).
int position_of(task_stage s) {
  if (s == task_stage::done)
    return static_cast<int>(rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    if (s != task_stage::unknown && rows[i].stage == s)
      return static_cast<int>(i);
  return -1;
}

struct stage_change {
  task_stage from = task_stage::unknown;
  task_stage to = task_stage::unknown;
  int64_t at = 0;
};

// "from>to@YYYY-MM-DD HH:MM:SS" entries of the stage history.
std::vector<stage_change> changes_of(const std::vector<std::string>& history) {
  std::vector<stage_change> out;
  for (auto& h : history) {
    auto gt = h.find('>');
    auto at = h.find('@');
    if (gt == std::string::npos || at == std::string::npos || at < gt)
      continue;
    auto when = seconds_of(std::string_view{h}.substr(at + 1));
    if (!when)
      continue;
    out.push_back({parse_task_stage(h.substr(0, gt)),
                   parse_task_stage(h.substr(gt + 1, at - gt - 1)), *when});
  }
  return out;
}

// Seconds spent in each stage so far (every visit), from the history.
std::map<task_stage, int64_t>
time_in_stages(const std::vector<stage_change>& changes) {
  std::map<task_stage, int64_t> entered;
  std::map<task_stage, int64_t> spent;
  for (auto& c : changes) {
    auto in = entered.find(c.from);
    if (in != entered.end()) {
      spent[c.from] += std::max<int64_t>(0, c.at - in->second);
      entered.erase(in);
    }
    entered[c.to] = c.at;
  }
  return spent;
}

// A model's short name: claude-opus-4-1-20250805 -> opus-4-1.
std::string short_model(std::string m) {
  if (m.rfind("claude-", 0) == 0)
    m.erase(0, 7);
  auto dash = m.rfind('-');
  if (dash != std::string::npos && m.size() - dash == 9 &&
      std::all_of(m.begin() + static_cast<long>(dash) + 1, m.end(),
                  [](char c) { return c >= '0' && c <= '9'; }))
    m.erase(dash);
  return m;
}

struct usage_sum {
  int64_t runs = 0;
  int64_t input = 0;
  int64_t output = 0;
  int64_t cache_read = 0;
  int64_t cache_creation = 0;
  double cost = 0;
  bool has_tokens = false;
  bool has_cost = false;
  int64_t seconds = 0;
  std::string model;
  std::string effort;

  void add(const run_row& r) {
    ++runs;
    auto& u = r.usage;
    for (auto [from, to] :
         {std::pair{&u.input_tokens, &input},
          std::pair{&u.output_tokens, &output},
          std::pair{&u.cache_read_tokens, &cache_read},
          std::pair{&u.cache_creation_tokens, &cache_creation}})
      if (*from) {
        *to += **from;
        has_tokens = true;
      }
    if (u.cost_usd) {
      cost += *u.cost_usd;
      has_cost = true;
    }
    auto start = seconds_of(r.started_at);
    auto end = seconds_of(r.finished_at);
    if (start && end && *end > *start)
      seconds += *end - *start;
    if (!r.model.empty())
      model = short_model(r.model);
    if (!r.effort.empty())
      effort = r.effort;
  }
};

std::string tokens_of(const usage_sum& u) {
  return count(u.input) + " in, " + count(u.output) + " out, " +
         count(u.cache_read) + "/" + count(u.cache_creation) + " cache";
}

// A stamp's time of day, UTC ("" when not a stamp).
std::string clock_of(std::string_view stamp) {
  auto s = seconds_of(stamp);
  if (!s)
    return std::string{stamp};
  std::time_t t = *s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%H:%M UTC", &tm);
  return buf;
}

// How much detail fits: each level drops some, until the card fits.
struct level {
  size_t title;
  size_t reason;
  size_t deps;
  bool stage_details;
};

constexpr std::array<level, 4> levels = {
    level{200, 300, 10, true}, level{80, 120, 5, true}, level{40, 60, 3, false},
    level{20, 30, 1, false}};

std::string render_at(const card_facts& f, int64_t now, const options& opts,
                      const level& lv) {
  auto& task = f.detail.task;
  auto& p = f.detail.pipeline;
  std::string out;
  // Header: the work item, linked, and its title.
  auto id = html::escape(shorten(task.work_item_id, 40));
  if (!opts.work_item_url.empty())
    out += "<b><a href=\"" + html::escape(opts.work_item_url) + "\">" + id +
           "</a></b>";
  else
    out += "<b>" + id + "</b>";
  if (!task.title.empty())
    out += " " + html::escape(shorten(task.title, lv.title));
  out += "\n";
  // Runs by agent, for each stage's details and the totals.
  std::map<std::string, usage_sum> by_agent;
  usage_sum total;
  for (auto& r : f.detail.runs) {
    by_agent[r.agent].add(r);
    total.add(r);
  }
  auto changes = changes_of(p.history);
  auto spent = time_in_stages(changes);
  // The analysis stage's time is the agent's: the human's review is apart.
  if (f.detail.human_review_s && spent.count(task_stage::analysis))
    spent[task_stage::analysis] = std::max<int64_t>(
        0, spent[task_stage::analysis] - *f.detail.human_review_s);
  auto stuck = !p.stuck_reason.empty();
  auto stage = task.stage;
  // A cancelled task: the stage it was cancelled in.
  auto cancelled = stage == task_stage::cancelled;
  if (cancelled)
    for (auto& c : changes)
      if (c.to == task_stage::cancelled)
        stage = c.from;
  auto here = position_of(stage);
  auto gate_open =
      stage == task_stage::analysis && p.waiting == task_wait::human_review;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& r = rows[i];
    auto pos = static_cast<int>(i);
    auto approval = r.stage == task_stage::unknown;
    std::string line;
    if (approval) {
      if (!task.brd_review_ended_at.empty() || here > pos)
        line = "✓ approval";
      else if (gate_open)
        line = "⏸ approval: waits for your review of the BRD";
      else
        line = "· approval";
      if (f.detail.human_review_s && !gate_open)
        line += " · your time " + duration(*f.detail.human_review_s);
      else if (gate_open) {
        if (auto start = seconds_of(task.brd_review_started_at))
          line += " (" + duration(std::max<int64_t>(0, now - *start)) + ")";
      }
      out += line + "\n";
      continue;
    }
    auto s = r.stage;
    auto* agent = pipeline::agent_of(s);
    auto runs = by_agent.find(agent);
    bool current = pos == here && !(gate_open && s == task_stage::analysis) &&
                   stage != task_stage::done;
    if (gate_open && s == task_stage::analysis)
      line = "✓ analysis";
    else if (pos < here || stage == task_stage::done)
      line = std::string{"✓ "} + r.name;
    else if (!current)
      line = std::string{"· "} + r.name;
    else if (cancelled)
      line = std::string{"✗ "} + r.name + ": cancelled";
    else if (stuck)
      line = std::string{"✗ "} + r.name;
    else if (!f.running_agent.empty()) {
      line = std::string{"▶ "} + r.name;
      if (auto since = seconds_of(f.running_since))
        line += " " + duration(std::max<int64_t>(0, now - *since));
    } else if (p.waiting == task_wait::ci)
      line = std::string{"⏸ "} + r.name + ": waits for CI";
    else if (!f.frozen.empty())
      line = std::string{"⏸ "} + r.name + ": repo frozen";
    else if (!f.blocked_by.empty())
      line = std::string{"⏸ "} + r.name + ": waits for a dependency";
    else if (!f.deferred_until.empty())
      line = std::string{"⏸ "} + r.name + ": deferred";
    else
      line = std::string{"⏸ "} + r.name + ": queued";
    bool finished_here = line.rfind("✓", 0) == 0;
    if (finished_here && lv.stage_details) {
      auto t = spent.find(s);
      if (t != spent.end())
        line += " " + duration(t->second);
      if (runs != by_agent.end()) {
        auto& u = runs->second;
        if (!u.model.empty())
          line +=
              " · " + html::escape(shorten(u.model, 24)) +
              (u.effort.empty() ? ""
                                : " · " + html::escape(shorten(u.effort, 8)));
        if (u.runs > 1)
          line += " · " + std::to_string(u.runs) + " runs";
        if (u.has_tokens)
          line += " · " + tokens_of(u);
        if (u.has_cost)
          line += " · " + economics::dollars(u.cost);
      }
    }
    out += line + "\n";
  }
  // Totals: the agents' work apart from the human's.
  auto& budget = f.detail.budget;
  if (total.runs > 0) {
    out += "\n<b>Total</b>";
    if (total.has_cost)
      out += " " + economics::dollars(total.cost);
    if (budget.budget_usd)
      out += " of " + economics::dollars(*budget.budget_usd) + " budget";
    if (total.has_tokens)
      out += " · " + tokens_of(total);
    out += "\nagents " + duration(total.seconds);
    if (f.detail.human_review_s)
      out += " · your time " + duration(*f.detail.human_review_s);
    out += "\n";
  }
  // What it waits for, or why it stopped.
  std::string status;
  if (task.stage == task_stage::done)
    status = "✓ <b>done</b>";
  else if (cancelled)
    status = "✗ <b>cancelled</b>";
  else if (stuck)
    status =
        "✗ <b>stuck</b>: " + html::escape(shorten(p.stuck_reason, lv.reason));
  else if (!f.frozen.empty())
    status = "⏸ repo frozen: " + html::escape(shorten(f.frozen, lv.reason));
  else if (!budget.paused.empty())
    status = "⏸ paused for budget: " +
             html::escape(shorten(budget.paused, lv.reason));
  else if (!f.blocked_by.empty()) {
    status = "⏸ waits for ";
    size_t shown = std::min(f.blocked_by.size(), lv.deps);
    for (size_t i = 0; i < shown; ++i)
      status += (i ? ", " : "") + html::escape(shorten(f.blocked_by[i], 40));
    if (shown < f.blocked_by.size())
      status += " and " + std::to_string(f.blocked_by.size() - shown) + " more";
  } else if (gate_open)
    status = "⏸ waits for your review of the BRD";
  else if (p.waiting == task_wait::ci)
    status = "⏸ waits for CI" +
             (p.expected_sha.empty()
                  ? std::string{}
                  : " on " + html::escape(p.expected_sha.substr(0, 7)));
  else if (!f.deferred_until.empty())
    status = std::string{"⏸ deferred until "} +
             html::escape(clock_of(f.deferred_until)) +
             (stage == task_stage::deploy ? " (merge lock busy)" : "");
  else if (task.stage == task_stage::setup_failed)
    status = "✗ <b>setup failed</b>";
  if (!status.empty())
    out += "\n" + status;
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

} // namespace

std::string render(const card_facts& facts, int64_t now, const options& opts) {
  std::string out;
  for (auto& lv : levels) {
    out = render_at(facts, now, opts, lv);
    if (out.size() <= opts.max_bytes)
      return out;
  }
  // Only a limit far below Telegram's gets here: the id alone.
  return html::escape(
      shorten(facts.detail.task.work_item_id,
              opts.max_bytes / 6 > 1 ? opts.max_bytes / 6 - 1 : 1));
}

std::string work_item_url(std::string_view url_template,
                          std::string_view workspace, std::string_view project,
                          std::string_view plane_id) {
  if (url_template.empty() || workspace.empty() || project.empty() ||
      plane_id.empty())
    return {};
  std::string out{url_template};
  for (auto [key, value] :
       {std::pair{std::string_view{"{workspace}"}, workspace},
        std::pair{std::string_view{"{project}"}, project},
        std::pair{std::string_view{"{id}"}, plane_id}}) {
    auto at = out.find(key);
    if (at != std::string::npos)
      out.replace(at, key.size(), value);
  }
  return out;
}

std::string stamp_of(int64_t seconds) {
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

caf::optional<int64_t> seconds_of(std::string_view stamp) {
  if (stamp.size() < 19)
    return caf::none;
  std::tm tm{};
  char sep = 0;
  std::string s{stamp.substr(0, 19)};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &tm.tm_year,
                  &tm.tm_mon, &tm.tm_mday, &sep, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 7 ||
      (sep != ' ' && sep != 'T'))
    return caf::none;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

std::string shorten(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    // A character starts at every byte that is not a continuation byte.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == max_chars) {
        if (max_chars == 0)
          return {};
        // Room for the ellipsis: drop the last character kept.
        size_t cut = i;
        do
          --cut;
        while (cut > 0 &&
               (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80);
        return std::string{text.substr(0, cut)} + "…";
      }
      ++chars;
    }
  }
  return std::string{text};
}

std::string duration(int64_t s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%lldm %02llds",
                  static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lldh %02lldm",
                  static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd %lldh",
                  static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string count(int64_t n) {
  char buf[32];
  if (n < 1000)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  else if (n < 1'000'000)
    std::snprintf(buf, sizeof buf, "%.1fk", static_cast<double>(n) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  return buf;
}

} // namespace orchd::card
