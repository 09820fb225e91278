#include "actors/logic/plane_api.hpp"

#include "actors/core/error.hpp"
#include "actors/logic/html.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace orchd::plane {

namespace {

std::string project_url(const endpoint& e, const std::string& project) {
  auto base = e.base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  return base + "/api/v1/workspaces/" + e.workspace_slug + "/projects/" +
         project + "/";
}

outbound_request make(const endpoint& e, std::string method, std::string url,
                      std::string body = {}) {
  outbound_request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers.emplace_back("X-API-Key", e.api_key);
  r.body = std::move(body);
  return r;
}

int64_t number_or(const std::string& text, int64_t fallback) {
  if (text.empty() ||
      text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 12)
    return fallback;
  return std::stoll(text);
}

} // namespace

endpoint endpoint_of(const config& cfg) {
  return {cfg.plane.base_url, cfg.plane.workspace_slug,
          cfg.secrets.plane_api_key};
}

outbound_request list_states(const endpoint& e, const std::string& project) {
  return make(e, "GET", project_url(e, project) + "states/");
}

outbound_request set_state(const endpoint& e, const std::string& project,
                           const std::string& item,
                           const std::string& state_id) {
  nlohmann::json body{{"state", state_id}};
  return make(e, "PATCH", project_url(e, project) + "work-items/" + item + "/",
              body.dump());
}

outbound_request add_comment(const endpoint& e, const std::string& project,
                             const std::string& item, std::string_view text,
                             const std::string& external_id) {
  nlohmann::json body{{"comment_html", comment_html(text)},
                      {"external_source", "orchd"},
                      {"external_id", external_id}};
  return make(e, "POST",
              project_url(e, project) + "work-items/" + item + "/comments/",
              body.dump());
}

outbound_request list_work_items(const endpoint& e, const std::string& project,
                                 const std::string& cursor, int64_t per_page) {
  auto url = project_url(e, project) + "work-items/?expand=state,labels" +
             "&per_page=" + std::to_string(per_page);
  if (!cursor.empty())
    url += "&cursor=" + cursor;
  return make(e, "GET", std::move(url));
}

caf::expected<work_item_page> parse_work_items(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("results") ||
      !doc["results"].is_array())
    return caf::make_error(ec::malformed_payload,
                           "work items: expected {\"results\": [...]}");
  work_item_page page;
  for (auto& item : doc["results"]) {
    if (!item.is_object() || !item.contains("id"))
      continue;
    nlohmann::json hook{{"event", "issue"},
                        {"action", "updated"},
                        {"data", item},
                        {"activity",
                         {{"field", "orchd_reconciler"},
                          {"actor", {{"id", "orchd-reconciler"}}}}}};
    page.items.push_back(hook.dump());
  }
  if (doc.contains("next_cursor") && doc["next_cursor"].is_string())
    page.next_cursor = doc["next_cursor"].get<std::string>();
  auto& more = doc["next_page_results"];
  page.more =
      more.is_boolean() && more.get<bool>() && !page.next_cursor.empty();
  return page;
}

outbound_request list_comments(const endpoint& e, const std::string& project,
                               const std::string& item) {
  return make(e, "GET",
              project_url(e, project) + "work-items/" + item + "/comments/");
}

std::string latest_human_comment(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return {};
  const auto& list =
      doc.is_object() && doc.contains("results") ? doc["results"] : doc;
  if (!list.is_array())
    return {};
  auto text_of = [](const nlohmann::json& c, const char* key) {
    auto i = c.find(key);
    return i != c.end() && i->is_string() ? i->get<std::string>()
                                          : std::string{};
  };
  std::string newest_at;
  std::string newest;
  for (auto& c : list) {
    if (!c.is_object() || text_of(c, "external_source") == "orchd")
      continue;
    auto at = text_of(c, "created_at");
    if (!newest.empty() && at < newest_at)
      continue;
    auto text = text_of(c, "comment_stripped");
    if (text.empty()) {
      // The HTML without its tags.
      bool in_tag = false;
      for (char ch : text_of(c, "comment_html")) {
        if (ch == '<')
          in_tag = true;
        else if (ch == '>')
          in_tag = false;
        else if (!in_tag)
          text += ch;
      }
    }
    if (text.empty())
      continue;
    newest_at = at;
    newest = std::move(text);
  }
  return newest;
}

std::string comment_html(std::string_view text) {
  // Escaped line by line, the lines joined with <br>.
  std::string out = "<p>";
  for (size_t start = 0;;) {
    auto end = text.find('\n', start);
    out += html::escape(text.substr(start, end - start));
    if (end == std::string_view::npos)
      break;
    out += "<br>";
    start = end + 1;
  }
  return out + "</p>";
}

caf::expected<std::map<std::string, std::string>>
parse_states(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded())
    return caf::make_error(ec::malformed_payload, "states: not valid JSON");
  const auto& list =
      doc.is_object() && doc.contains("results") ? doc["results"] : doc;
  if (!list.is_array())
    return caf::make_error(ec::malformed_payload, "states: expected a list");
  std::map<std::string, std::string> out;
  for (auto& s : list) {
    if (!s.is_object() || !s.contains("name") || !s.contains("id") ||
        !s["name"].is_string() || !s["id"].is_string())
      continue;
    auto name = s["name"].get<std::string>();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    out.emplace(std::move(name), s["id"].get<std::string>());
  }
  return out;
}

int64_t backoff_s(int64_t attempts, int64_t base_s, int64_t cap_s) {
  auto shift = std::min<int64_t>(attempts + 1, 30);
  return std::min<int64_t>(cap_s, base_s << shift);
}

verdict classify(const outbound_response& r, int64_t attempts, int64_t base_s,
                 int64_t cap_s, int64_t now_s) {
  verdict v;
  if (r.status >= 200 && r.status < 300)
    return v;
  auto backoff = [&] {
    return backoff_s(attempts, base_s, cap_s);
  };
  v.kind = verdict::retry;
  v.error = r.status == 0 ? "no answer: " + r.error
                          : "HTTP " + std::to_string(r.status);
  if (r.status == 429) {
    auto after = number_or(r.header("Retry-After"), -1);
    if (after < 0) {
      auto reset = number_or(r.header("X-RateLimit-Reset"), -1);
      // An epoch time, or (small) seconds from now.
      after = reset > 1'000'000'000 ? reset - now_s : reset;
    }
    v.retry_in_s = after > 0 ? std::min<int64_t>(after, 3600) : backoff();
    return v;
  }
  if (r.status == 0 || r.status == 408 || r.status >= 500) {
    v.retry_in_s = backoff();
    return v;
  }
  v.kind = verdict::refused;
  auto detail = r.body.substr(0, 200);
  if (!detail.empty())
    v.error += ": " + detail;
  return v;
}

} // namespace orchd::plane
