#include "actors/logic/economics.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace orchd::economics {

run_cost cost_of(const run_usage& usage, const std::string& model,
                 const price_table& prices) {
  if (usage.cost_usd)
    return {usage.cost_usd, false};
  auto p = prices.find(model);
  bool any_tokens = usage.input_tokens || usage.output_tokens ||
                    usage.cache_read_tokens || usage.cache_creation_tokens;
  if (p == prices.end() || !any_tokens)
    return {};
  auto per_million = [](caf::optional<int64_t> n, double usd) {
    return static_cast<double>(n.value_or(0)) * usd / 1e6;
  };
  auto& x = p->second;
  return {per_million(usage.input_tokens, x.input) +
              per_million(usage.output_tokens, x.output) +
              per_million(usage.cache_read_tokens, x.cache_read) +
              per_million(usage.cache_creation_tokens, x.cache_creation),
          true};
}

caf::optional<double> typical_cost(const std::vector<double>& recent,
                                   size_t window) {
  std::vector<double> xs(
      recent.begin(),
      recent.begin() + static_cast<long>(std::min(window, recent.size())));
  if (xs.empty())
    return caf::none;
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

budget_check check_budget(double spent, caf::optional<double> typical,
                          caf::optional<double> budget) {
  budget_check x;
  x.spent = spent;
  x.expected = typical.value_or(0);
  x.budget = budget;
  if (budget)
    x.allowed = spent < *budget && spent + x.expected <= *budget;
  return x;
}

caf::optional<double> budget_in(std::string_view text) {
  constexpr std::string_view key = "budget:";
  size_t line = 0;
  while (line <= text.size()) {
    auto end = text.find('\n', line);
    auto l =
        text.substr(line, end == std::string_view::npos ? std::string_view::npos
                                                        : end - line);
    line = end == std::string_view::npos ? text.size() + 1 : end + 1;
    size_t i = 0;
    while (i < l.size() && (l[i] == ' ' || l[i] == '\t' || l[i] == '*'))
      ++i;
    if (l.size() - i < key.size())
      continue;
    bool match = true;
    for (size_t k = 0; k < key.size(); ++k)
      match =
          match && std::tolower(static_cast<unsigned char>(l[i + k])) == key[k];
    if (!match)
      continue;
    i += key.size();
    while (i < l.size() && l[i] == ' ')
      ++i;
    if (i < l.size() && l[i] == '$')
      ++i;
    std::string digits;
    while (i < l.size() &&
           (std::isdigit(static_cast<unsigned char>(l[i])) || l[i] == '.'))
      digits += l[i++];
    if (digits.empty() || digits.size() > 12 ||
        std::count(digits.begin(), digits.end(), '.') > 1)
      continue;
    auto amount = std::strtod(digits.c_str(), nullptr);
    if (amount > 0)
      return amount;
  }
  return caf::none;
}

} // namespace orchd::economics

namespace orchd::economics {

std::string dollars(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "$%.2f", usd);
  return buf;
}

caf::optional<job_hold> budget_hold(const budget_facts& facts) {
  auto typical = typical_cost(facts.recent);
  if (auto c = check_budget(facts.spent, typical, facts.budget); !c.allowed)
    return job_hold{"task budget: spent " + dollars(c.spent) +
                        ", a run costs about " + dollars(c.expected) +
                        ", budget " + dollars(*c.budget),
                    ""};
  if (auto c = check_budget(facts.spent_today, typical, facts.daily_budget);
      !c.allowed)
    return job_hold{"daily budget: project spent " + dollars(c.spent) +
                        " today, a run costs about " + dollars(c.expected) +
                        ", daily budget " + dollars(*c.budget),
                    facts.next_midnight};
  return caf::none;
}

} // namespace orchd::economics
