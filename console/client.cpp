#include "console/client.hpp"

#include "http/client/https_client.hpp"

#include <chrono>

namespace orchd::console {

std::string reply::refusal() const {
  if (body.is_object() && body.contains("error") && body["error"].is_string())
    return body["error"].get<std::string>();
  return "HTTP " + std::to_string(status);
}

struct client::impl {
  // A backup of a large database takes a while; every other call is quick.
  http_client::client http{std::chrono::seconds{1800}};
};

client::client(std::string base, std::string token)
    : base_(std::move(base))
    , token_(std::move(token))
    , impl_(std::make_unique<impl>()) {
  while (!base_.empty() && base_.back() == '/')
    base_.pop_back();
}

client::~client() = default;

reply client::get(const std::string& path) {
  return send("GET", path, {});
}

reply client::post(const std::string& path, const nlohmann::json& body) {
  return send("POST", path, body.dump());
}

reply client::send(const std::string& method, const std::string& path,
                   const std::string& body) {
  outbound_request req;
  req.method = method;
  req.url = base_ + path;
  if (!token_.empty())
    req.headers.emplace_back("Authorization", "Bearer " + token_);
  req.body = body;
  auto res = impl_->http.send(req);
  reply out;
  out.status = res.status;
  out.error = res.error;
  out.text = std::move(res.body);
  out.body = nlohmann::json::parse(out.text, nullptr, false);
  if (out.body.is_discarded())
    out.body = nullptr;
  if (auto next = res.header("X-Orchd-Next-Offset"); !next.empty())
    out.next_offset = std::stoll(next);
  out.finished = res.header("X-Orchd-Finished") == "true";
  return out;
}

} // namespace orchd::console
