#include "actors/logic/agent_result.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace orchd {

namespace {

using nlohmann::json;

// An agent's output is not trusted: a field of the wrong type, or a number
// out of range, reads as absent instead of throwing.
caf::optional<int64_t> int_field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end())
    return caf::none;
  if (it->is_number_unsigned()) {
    auto x = it->get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return caf::none;
    return static_cast<int64_t>(x);
  }
  if (it->is_number_integer())
    return it->get<int64_t>();
  if (it->is_number_float()) {
    auto x = it->get<double>();
    // 2^63 is exactly representable; anything from it up does not fit.
    if (!(x > -9.2e18 && x < 9.2e18))
      return caf::none;
    return static_cast<int64_t>(x);
  }
  return caf::none;
}

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Set, or present but not a boolean: a result that garbles its error flag
// is not taken for a success.
bool error_flag(const json& j) {
  auto it = j.find("is_error");
  return it != j.end() && (!it->is_boolean() || it->get<bool>());
}

std::string lower(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// The result object inside a parsed value, if any.
const json* result_object(const json& value) {
  if (value.is_object())
    return &value;
  if (!value.is_array())
    return nullptr;
  for (auto it = value.rbegin(); it != value.rend(); ++it)
    if (it->is_object() && string_field(*it, "type") == "result")
      return &*it;
  return nullptr;
}

// "Claude AI usage limit reached|1767225600": the reset time, as a delay.
int64_t usage_limit_reset_s(const std::string& text, int64_t now_s) {
  auto bar = text.rfind('|');
  if (bar == std::string::npos || !contains(lower(text), "limit"))
    return 0;
  auto digits = text.substr(bar + 1);
  if (digits.empty() || digits.size() > 12 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  auto reset = std::stoll(digits);
  return reset > now_s ? reset - now_s : 0;
}

void read_result(const json& r, int64_t now_s, agent_result& out) {
  out.parsed = true;
  out.subtype = string_field(r, "subtype");
  out.is_error = error_flag(r);
  out.api_error_status = int_field(r, "api_error_status").value_or(0);
  if (auto it = r.find("result"); it != r.end() && it->is_string())
    out.text = it->get<std::string>();
  if (auto it = r.find("errors");
      out.text.empty() && it != r.end() && it->is_array())
    for (auto& e : *it)
      if (e.is_string())
        out.text += (out.text.empty() ? "" : "; ") + e.get<std::string>();
  if (auto it = r.find("usage"); it != r.end() && it->is_object()) {
    out.usage.input_tokens = int_field(*it, "input_tokens");
    out.usage.output_tokens = int_field(*it, "output_tokens");
    out.usage.cache_read_tokens = int_field(*it, "cache_read_input_tokens");
    out.usage.cache_creation_tokens =
        int_field(*it, "cache_creation_input_tokens");
  }
  if (auto it = r.find("total_cost_usd"); it != r.end() && it->is_number())
    if (auto cost = it->get<double>(); std::isfinite(cost) && cost >= 0)
      out.usage.cost_usd = cost;
  if (auto it = r.find("model"); it != r.end() && it->is_string())
    out.model = it->get<std::string>();
  if (auto it = r.find("modelUsage");
      out.model.empty() && it != r.end() && it->is_object()) {
    int64_t most = -1;
    for (auto& [name, usage] : it->items()) {
      auto n =
          usage.is_object() ? int_field(usage, "outputTokens").value_or(0) : 0;
      if (n > most) {
        most = n;
        out.model = name;
      }
    }
  }
  if (auto hint = int_field(r, "retry_after"); hint && *hint > 0)
    out.retry_after_s = *hint;
  else
    out.retry_after_s = usage_limit_reset_s(out.text, now_s);
}

bool try_parse(std::string_view text, int64_t now_s, agent_result& out) {
  auto value = json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded())
    return false;
  auto r = result_object(value);
  if (r == nullptr)
    return false;
  read_result(*r, now_s, out);
  return true;
}

} // namespace

agent_result parse_agent_result(std::string_view stdout_text, int64_t now_s) {
  agent_result out;
  if (try_parse(stdout_text, now_s, out))
    return out;
  // Noise before the result: try each line from the last one back.
  auto end = stdout_text.size();
  while (end > 0) {
    auto start = stdout_text.rfind('\n', end - 1);
    auto from = start == std::string_view::npos ? 0 : start + 1;
    auto line = stdout_text.substr(from, end - from);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos &&
        (line[first] == '{' || line[first] == '[') &&
        try_parse(line, now_s, out))
      return out;
    if (start == std::string_view::npos)
      break;
    end = start;
  }
  return agent_result{};
}

run_verdict classify_run(const agent_result& result, int64_t exit_code) {
  if (!result.parsed) {
    auto how = exit_code < 0 ? "killed by signal " + std::to_string(-exit_code)
                             : "exit code " + std::to_string(exit_code);
    return {run_kind::crash, "agent crashed: " + how + ", no result", 0};
  }
  if (result.subtype == "success" && !result.is_error)
    return {run_kind::success, "", 0};
  auto text = lower(result.text);
  bool transient =
      result.is_error &&
      (result.api_error_status == 429 || result.api_error_status == 529 ||
       contains(text, "rate limit") || contains(text, "overloaded") ||
       contains(text, "usage limit"));
  // An error result may still say subtype "success" (an API error).
  std::string error = result.subtype.empty() || result.subtype == "success"
                          ? "error"
                          : result.subtype;
  if (result.api_error_status != 0)
    error += " (api status " + std::to_string(result.api_error_status) + ")";
  if (!result.text.empty())
    error += ": " + result.text;
  if (transient)
    return {run_kind::transient, error, result.retry_after_s};
  return {run_kind::fault, error, 0};
}

int64_t transient_delay_s(int64_t attempt, int64_t base_s, int64_t cap_s,
                          int64_t hint_s) {
  constexpr int64_t one_day_s = 24 * 3600;
  int64_t delay = cap_s;
  if (attempt < 40) {
    auto factor = int64_t{1} << std::max<int64_t>(attempt, 0);
    if (base_s <= cap_s / factor)
      delay = factor * base_s;
  }
  delay = std::min(delay, cap_s);
  return std::max(delay, std::min(hint_s, one_day_s));
}

finalise_plan plan_finalise(const job_row& job, int64_t run_id,
                            const run_verdict& verdict,
                            const retry_policy& backoff) {
  if (verdict.kind == run_kind::transient &&
      job.transient_attempts + 1 < backoff.max_transient_attempts) {
    transient_requeue requeue;
    requeue.job_id = job.id;
    requeue.expected_run_id = run_id;
    requeue.error = verdict.error;
    requeue.delay_s =
        transient_delay_s(job.transient_attempts + 1, backoff.base_s,
                          backoff.cap_s, verdict.retry_after_s);
    return {requeue};
  }
  if (verdict.kind == run_kind::shutdown) {
    interruption x;
    x.job_id = job.id;
    x.expected_run_id = run_id;
    x.max_interruptions = backoff.max_interruptions;
    x.error = verdict.error;
    x.final_error =
        "interrupted by orchd " + std::to_string(backoff.max_interruptions) +
        " times (scheduler.max_interruptions), not run again: " + verdict.error;
    return {x};
  }
  job_mark mark;
  mark.job_id = job.id;
  mark.run_id = run_id;
  mark.expected_run_id = run_id;
  mark.error = verdict.error;
  switch (verdict.kind) {
  case run_kind::success:
    mark.status = job_status::done;
    mark.error = caf::none;
    break;
  case run_kind::fault:
  case run_kind::crash:
  case run_kind::timeout:
    mark.status = job.attempts < job.max_attempts ? job_status::queued
                                                  : job_status::failed;
    break;
  case run_kind::cancelled:
    mark.status = job_status::failed;
    mark.error = std::string{"cancelled"};
    break;
  case run_kind::transient:
    // Its transient budget is spent (a budget left was planned above).
    mark.status = job_status::failed;
    mark.error =
        "failed transiently " + std::to_string(backoff.max_transient_attempts) +
        " times (scheduler.max_transient_attempts), last: " + verdict.error;
    break;
  case run_kind::shutdown:
    // Planned above.
    mark.status = job_status::queued;
    break;
  }
  return {mark};
}

finalise_plan plan_from_run(const running_job& job,
                            const retry_policy& backoff) {
  run_verdict verdict;
  auto code = job.exit_code.value_or(-1);
  if (job.run_outcome) {
    verdict = {*job.run_outcome, job.run_error, job.run_retry_after_s};
  } else {
    verdict.kind = code == 0 ? run_kind::success : run_kind::crash;
    verdict.error = "agent exited with code " + std::to_string(code);
  }
  return plan_finalise(job.job, job.job.run_id.value_or(0), verdict, backoff);
}

} // namespace orchd
