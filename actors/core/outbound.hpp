// Outbound HTTP as the actors see it: a request, its answer, and the
// function that sends one (http/client implements it; the daemon hands it
// to the actors that call APIs, so they include no HTTP library).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace orchd {

struct outbound_request {
  /// GET, POST, PATCH, ...
  std::string method = "GET";
  /// Absolute: https://host[:port]/path?query
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Sent as application/json when not empty.
  std::string body;
};

struct outbound_response {
  /// 0: no answer (connection refused, timeout, TLS failure: `error`).
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;

  /// The first header of that name (any case), "" when absent.
  std::string header(const std::string& name) const {
    auto lower = [](std::string x) {
      for (auto& c : x)
        if (c >= 'A' && c <= 'Z')
          c = static_cast<char>(c - 'A' + 'a');
      return x;
    };
    auto want = lower(name);
    for (auto& [k, v] : headers)
      if (lower(k) == want)
        return v;
    return {};
  }
};

/// Sends one request and waits for its answer (the caller's thread).
using outbound_send = std::function<outbound_response(const outbound_request&)>;

} // namespace orchd
