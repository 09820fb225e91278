#include "tests/support/fake_telegram.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace orchd::test {

namespace {

std::string error(int code, const std::string& description) {
  return nlohmann::json{
      {"ok", false}, {"error_code", code}, {"description", description}}
      .dump();
}

} // namespace

fake_telegram::fake_telegram()
    : server_([this](const loopback_http::request& r) { return reply(r); }) {}

std::vector<fake_telegram::call> fake_telegram::calls() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return calls_;
}

std::map<int64_t, std::string>
fake_telegram::live(const std::string& chat) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = chats_.find(chat);
  return it == chats_.end() ? std::map<int64_t, std::string>{} : it->second;
}

std::vector<int64_t> fake_telegram::cards_of(const std::string& chat,
                                             const std::string& wi) const {
  std::vector<int64_t> out;
  for (auto& [id, text] : live(chat))
    if (text.find(">" + wi + "<") != std::string::npos)
      out.push_back(id);
  return out;
}

void fake_telegram::fail_next(const std::string& method, int n, int status,
                              std::string body) {
  std::lock_guard<std::mutex> guard{mtx_};
  failures_.push_back({method, n, status, std::move(body)});
}

loopback_http::response fake_telegram::reply(const loopback_http::request& r) {
  call c;
  c.at = clock::now();
  // /bot<token>/<method>
  auto slash = r.target.find('/', 1);
  if (r.target.rfind("/bot", 0) == 0 && slash != std::string::npos) {
    c.token = r.target.substr(4, slash - 4);
    c.method = r.target.substr(slash + 1);
  }
  auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (body.is_object()) {
    if (body.contains("chat_id"))
      c.chat = body["chat_id"].is_string()
                   ? body["chat_id"].get<std::string>()
                   : std::to_string(body["chat_id"].get<int64_t>());
    c.message_id = body.value("message_id", int64_t{0});
    c.text = body.value("text", std::string{});
  }
  std::lock_guard<std::mutex> guard{mtx_};
  loopback_http::response res;
  auto answer = [&](int status, std::string text) {
    res.status = status;
    res.body = std::move(text);
  };
  auto failing =
      std::find_if(failures_.begin(), failures_.end(), [&](const failure& f) {
        return f.n > 0 && (f.method.empty() || f.method == c.method);
      });
  if (down_) {
    answer(502, "<html>Bad Gateway</html>");
  } else if (failing != failures_.end()) {
    --failing->n;
    answer(failing->status, failing->body);
  } else if (c.method == "sendMessage") {
    c.message_id = next_id_++;
    chats_[c.chat][c.message_id] = c.text;
    answer(200,
           nlohmann::json{
               {"ok", true},
               {"result", {{"message_id", c.message_id}, {"date", 1775037600}}}}
               .dump());
  } else if (c.method == "editMessageText") {
    auto& chat = chats_[c.chat];
    auto it = chat.find(c.message_id);
    if (it == chat.end())
      answer(400, error(400, "Bad Request: message to edit not found"));
    else if (it->second == c.text)
      answer(400, error(400, "Bad Request: message is not modified: "
                             "specified new message content and reply "
                             "markup are exactly the same as a current "
                             "content and reply markup of the message"));
    else {
      it->second = c.text;
      answer(200, R"({"ok":true,"result":{"message_id":)" +
                      std::to_string(c.message_id) + "}}");
    }
  } else if (c.method == "deleteMessage") {
    auto& chat = chats_[c.chat];
    if (chat.erase(c.message_id) == 0)
      answer(400, error(400, "Bad Request: message to delete not found"));
    else
      answer(200, R"({"ok":true,"result":true})");
  } else {
    answer(404, error(404, "Not Found"));
  }
  c.status = res.status;
  calls_.push_back(c);
  return res;
}

} // namespace orchd::test
