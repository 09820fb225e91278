#include "actors/logic/telegram_api.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdlib>

namespace orchd::telegram {

namespace {

outbound_request call(const endpoint& e, const char* method,
                      nlohmann::json body) {
  outbound_request r;
  r.method = "POST";
  auto base = e.base_url;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  r.url = base + "/bot" + e.token + "/" + method;
  r.body = body.dump();
  return r;
}

// A numeric chat id goes as a number, a @channel name as text.
nlohmann::json chat_of(const std::string& chat_id) {
  if (chat_id.empty())
    return chat_id;
  char* end = nullptr;
  auto n = std::strtoll(chat_id.c_str(), &end, 10);
  if (end && *end == '\0')
    return n;
  return chat_id;
}

bool mentions(const std::string& text, const char* what) {
  std::string lower;
  for (auto c : text)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(what) != std::string::npos;
}

} // namespace

outbound_request send_message(const endpoint& e, const std::string& chat_id,
                              const std::string& html) {
  return call(e, "sendMessage",
              {{"chat_id", chat_of(chat_id)},
               {"text", html},
               {"parse_mode", "HTML"},
               {"disable_web_page_preview", true}});
}

outbound_request edit_message(const endpoint& e, const std::string& chat_id,
                              int64_t message_id, const std::string& html) {
  return call(e, "editMessageText",
              {{"chat_id", chat_of(chat_id)},
               {"message_id", message_id},
               {"text", html},
               {"parse_mode", "HTML"},
               {"disable_web_page_preview", true}});
}

outbound_request delete_message(const endpoint& e, const std::string& chat_id,
                                int64_t message_id) {
  return call(e, "deleteMessage",
              {{"chat_id", chat_of(chat_id)}, {"message_id", message_id}});
}

answer classify(const outbound_response& res) {
  answer a;
  if (res.status == 0) {
    a.kind = answer::retry;
    a.description = res.error.empty() ? "no answer" : res.error;
    return a;
  }
  a.error_code = res.status;
  auto doc = nlohmann::json::parse(res.body, nullptr, false);
  bool api_ok = false;
  if (doc.is_object()) {
    api_ok = doc.value("ok", false) == true;
    if (doc.contains("error_code") && doc["error_code"].is_number_integer())
      a.error_code = doc["error_code"].get<int64_t>();
    if (doc.contains("description") && doc["description"].is_string())
      a.description = doc["description"].get<std::string>();
    auto params = doc.find("parameters");
    if (params != doc.end() && params->is_object() &&
        params->contains("retry_after") &&
        (*params)["retry_after"].is_number_integer())
      a.retry_after_s = (*params)["retry_after"].get<int64_t>();
    auto result = doc.find("result");
    if (result != doc.end() && result->is_object() &&
        result->contains("message_id") &&
        (*result)["message_id"].is_number_integer())
      a.message_id = (*result)["message_id"].get<int64_t>();
  }
  if (res.status >= 200 && res.status < 300 && api_ok) {
    a.kind = answer::ok;
    a.error_code = 0;
    return a;
  }
  if (a.description.empty())
    a.description = "HTTP " + std::to_string(res.status);
  if (a.error_code == 429 || res.status == 429) {
    a.kind = answer::retry;
    if (a.retry_after_s <= 0)
      a.retry_after_s = 1;
  } else if (res.status >= 500 || (res.status >= 200 && res.status < 300)) {
    // A server error, or a 2xx that is not an API answer (a proxy's page).
    a.kind = answer::retry;
  } else if (mentions(a.description, "message is not modified")) {
    a.kind = answer::not_modified;
  } else if (mentions(a.description, "message to delete not found") ||
             mentions(a.description, "message can't be deleted") ||
             mentions(a.description, "message to edit not found") ||
             mentions(a.description, "message can't be edited")) {
    a.kind = answer::gone;
  } else {
    a.kind = answer::refused;
  }
  return a;
}

std::string redact(std::string text, const std::string& token) {
  if (token.empty())
    return text;
  for (auto at = text.find(token); at != std::string::npos;
       at = text.find(token, at))
    text.replace(at, token.size(), "<token>");
  return text;
}

} // namespace orchd::telegram
