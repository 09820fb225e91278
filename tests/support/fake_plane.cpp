#include "tests/support/fake_plane.hpp"

#include <nlohmann/json.hpp>

namespace orchd::test {

namespace {

bool ends_with(const std::string& x, const std::string& tail) {
  return x.size() >= tail.size() &&
         x.compare(x.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

fake_plane::fake_plane(std::map<std::string, std::string> states)
    : states_(std::move(states))
    , server_([this](const loopback_http::request& r) { return reply(r); }) {}

std::string fake_plane::base_url() const {
  return server_.base_url();
}

std::vector<fake_plane::call> fake_plane::calls() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return calls_;
}

std::vector<std::string> fake_plane::accepted() const {
  std::vector<std::string> out;
  for (auto& c : calls())
    if (c.status >= 200 && c.status < 300)
      out.push_back(c.method + " " + c.target +
                    (c.body.empty() ? "" : " " + c.body));
  return out;
}

void fake_plane::add_work_item(std::string item_json) {
  std::lock_guard<std::mutex> guard{mtx_};
  items_.push_back(std::move(item_json));
}

void fake_plane::add_human_comment(std::string text) {
  std::lock_guard<std::mutex> guard{mtx_};
  human_comments_.push_back(std::move(text));
}

loopback_http::response fake_plane::reply(const loopback_http::request& r) {
  call c;
  c.method = r.method;
  c.target = r.target;
  c.body = r.body;
  auto key = r.headers.find("x-api-key");
  if (key != r.headers.end())
    c.api_key = key->second;
  std::string answer = "{}";
  c.status = 200;
  if (auto failing = failing_.load()) {
    c.status = failing;
    answer = R"({"error":"told to fail"})";
  } else if (c.method == "GET" && ends_with(c.target, "/states/")) {
    nlohmann::json list = nlohmann::json::array();
    for (auto& [name, id] : states_)
      list.push_back({{"id", id}, {"name", name}, {"group", "started"}});
    answer = nlohmann::json{{"results", list}}.dump();
  } else if (c.method == "GET" &&
             c.target.find("/work-items/?") != std::string::npos) {
    // Two items a page; the cursor is the offset.
    size_t offset = 0;
    auto at = c.target.find("cursor=");
    if (at != std::string::npos)
      offset = std::stoul(c.target.substr(at + 7));
    nlohmann::json page = nlohmann::json::array();
    std::lock_guard<std::mutex> guard{mtx_};
    for (size_t i = offset; i < items_.size() && i < offset + 2; ++i)
      page.push_back(nlohmann::json::parse(items_[i]));
    bool more = offset + 2 < items_.size();
    answer = nlohmann::json{
        {"results", page},
        {"next_cursor", std::to_string(offset + 2)},
        {"next_page_results",
         more}}.dump();
  } else if (c.method == "GET" && ends_with(c.target, "/comments/")) {
    // orchd's comments (as posted), then the people's, oldest first.
    nlohmann::json list = nlohmann::json::array();
    std::lock_guard<std::mutex> guard{mtx_};
    int n = 0;
    for (auto& posted : calls_)
      if (posted.method == "POST" && posted.status == 201) {
        auto body = nlohmann::json::parse(posted.body);
        body["created_at"] = "2026-04-01T10:00:0" + std::to_string(n++ % 10);
        list.push_back(body);
      }
    for (auto& text : human_comments_)
      list.push_back({{"comment_html", "<p>" + text + "</p>"},
                      {"created_at", "2026-04-01T11:00:00"}});
    answer = nlohmann::json{{"results", list}}.dump();
  } else if (c.method == "POST" && ends_with(c.target, "/comments/")) {
    c.status = 201;
  } else if (c.method != "PATCH") {
    c.status = 404;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    calls_.push_back(c);
  }
  return {c.status, answer};
}

} // namespace orchd::test
