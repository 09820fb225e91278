// The console's side of the admin API: one request at a time over the
// outbound HTTP client, the token in every request, JSON read back.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace orchd::console {

/// What the daemon answered, or why it could not be asked.
struct reply {
  /// 0: no answer (`error` says why).
  int status = 0;
  std::string error;
  /// The raw body, and its JSON when it is JSON (else null).
  std::string text;
  nlohmann::json body;
  /// The X-Orchd-* headers of a log slice.
  int64_t next_offset = 0;
  bool finished = false;

  bool reached() const { return status != 0; }
  bool ok() const { return status >= 200 && status < 300; }
  /// The daemon's `error` text, or the status line.
  std::string refusal() const;
};

class client {
public:
  /// `base`: http(s)://host:port of the daemon's admin routes.
  client(std::string base, std::string token);
  ~client();

  reply get(const std::string& path);
  reply post(const std::string& path, const nlohmann::json& body);

  const std::string& base() const { return base_; }

private:
  reply send(const std::string& method, const std::string& path,
             const std::string& body);

  std::string base_;
  std::string token_;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace orchd::console
