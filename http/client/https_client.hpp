// The one outbound HTTP layer: HTTP/1.1 over TLS (certificate and host
// name verified, SNI) with Beast and OpenSSL, connections kept alive per
// host. Plain http:// only for a loopback host (tests, local fakes).
// Blocking: it runs on the calling actor's own (detached) thread.
#pragma once

#include "actors/core/outbound.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace orchd::http_client {

/// An absolute URL's parts.
struct url_parts {
  bool tls = true;
  std::string host;
  std::string port;
  /// Path and query, "/" at least.
  std::string target;
};

/// Parses http(s)://host[:port][/target]; nothing when malformed.
std::optional<url_parts> parse_url(const std::string& url);

/// True for localhost, 127.0.0.0/8 and ::1.
bool is_loopback_host(const std::string& host);

class client {
public:
  /// `timeout` bounds connecting, and each read and write.
  explicit client(std::chrono::seconds timeout = std::chrono::seconds{30});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Sends one request; a kept-alive connection the server closed is
  /// opened again once. Never throws: failures are `error` with status 0.
  outbound_response send(const outbound_request& request);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A sender over one client shared by its copies (one thread at a time).
outbound_send make_sender(std::chrono::seconds timeout);

} // namespace orchd::http_client
