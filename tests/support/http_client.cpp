#include "tests/support/http_client.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace orchd::test {

connection::connection(uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
}

connection::~connection() {
  close(fd_);
}

bool connection::send_raw(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string connection::read_response(int timeout_ms) {
  std::string data;
  for (;;) {
    auto end = data.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = data.find("Content-Length: ");
      size_t len =
          cl == std::string::npos ? 0 : std::stoul(data.substr(cl + 16));
      if (data.size() >= end + 4 + len)
        return data.substr(0, end + 4 + len);
    }
    if (!read_some(data, timeout_ms))
      return {};
  }
}

bool connection::closed_by_server(int timeout_ms) {
  std::string ignored;
  while (read_some(ignored, timeout_ms)) {
  }
  return eof_;
}

bool connection::read_some(std::string& out, int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0)
    return false;
  char buf[4096];
  auto n = recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  out.append(buf, static_cast<size_t>(n));
  return true;
}

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0)
    return 0;
  return std::stoi(response.substr(9, 3));
}

} // namespace orchd::test
