// A raw HTTP/1.1 client over a loopback TCP socket for end-to-end tests:
// it sends exactly the bytes given, so malformed requests can be sent too.
#pragma once

#include <cstdint>
#include <string>

namespace orchd::test {

class connection {
public:
  /// Connects to 127.0.0.1:port (fails the test if it cannot).
  explicit connection(uint16_t port);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Sends all bytes; false when the server closed first (e.g. after 413).
  bool send_raw(const std::string& bytes);

  /// Reads one whole response (headers and Content-Length body); "" when
  /// the connection closes or `timeout_ms` passes before it is complete.
  std::string read_response(int timeout_ms = 30000);

  /// True once the server has closed the connection (within the limit).
  bool closed_by_server(int timeout_ms);

private:
  bool read_some(std::string& out, int timeout_ms);

  int fd_ = -1;
  bool eof_ = false;
};

/// The status code of a response, 0 when there is none.
int status_of(const std::string& response);

} // namespace orchd::test
