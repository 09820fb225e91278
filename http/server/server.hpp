// The HTTP server (Boost.Beast): a listener and one session per connection
// on their own io_context threads, never blocking on an actor. Beast stays
// inside http/*.cpp; this header is all the daemon sees.
#pragma once

#include "actors/core/actors.hpp"

#include <caf/expected.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace orchd::http {

/// An address to listen on; port 0 lets the OS choose.
struct listen_address {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
};

struct server_options {
  std::string address = "127.0.0.1";
  /// 0 lets the OS choose.
  uint16_t port = 0;
  /// Set: the admin routes are served there alone, and the main address
  /// answers only the webhooks and /healthz.
  std::optional<listen_address> admin_listen;
  int threads = 1;
  size_t header_limit = 16 * 1024;
  size_t webhook_body_limit = 25 * 1024 * 1024;
  size_t body_limit = 64 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds reply_timeout{10};
  size_t max_connections = 512;
  /// Request body bytes held at once across all connections, before any
  /// signature is checked; a request that would pass it gets 503.
  size_t max_buffered_bytes = 256 * 1024 * 1024;
  /// Bearer token of the admin routes; empty: they answer 401.
  std::string admin_token;
  /// GET /metrics asks for the admin token too.
  bool metrics_require_token = false;
};

/// The actors behind the HTTP surface.
struct backends {
  intake_actor intake;
  admin_api_actor admin;
};

class server {
public:
  explicit server(server_options opts);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens; answers the bound port. Connections wait in the
  /// kernel's backlog until `serve`. The daemon binds before it starts the
  /// job engine, so a taken port stops it before any agent runs.
  caf::expected<uint16_t> listen();

  /// The admin listener's bound port (0 when the admin routes share the
  /// main listener).
  uint16_t admin_port() const;

  /// Starts accepting, on the io threads, requests for `actors`.
  void serve(backends actors);

  /// Stops accepting, closes every connection and joins the threads.
  void stop();

  struct impl;

private:
  std::shared_ptr<impl> impl_;
};

} // namespace orchd::http
