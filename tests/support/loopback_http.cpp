#include "tests/support/loopback_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace orchd::test {

namespace {

std::string lower(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

} // namespace

loopback_http::loopback_http(handler h)
    : handler_(std::move(h)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("loopback_http: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] {
    serve();
  }};
}

loopback_http::~loopback_http() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  acceptor_.join();
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto fd : sessions_)
      ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_)
    t.join();
}

std::string loopback_http::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void loopback_http::serve() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0)
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    sessions_.push_back(fd);
    threads_.emplace_back([this, fd] { session(fd); });
  }
}

// Requests read one after another until the client closes.
void loopback_http::session(int fd) {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    auto head_end = buffer.find("\r\n\r\n");
    while (head_end == std::string::npos) {
      auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      head_end = buffer.find("\r\n\r\n");
    }
    auto head = buffer.substr(0, head_end);
    request req;
    auto first_space = head.find(' ');
    auto second_space = head.find(' ', first_space + 1);
    req.method = head.substr(0, first_space);
    req.target = head.substr(first_space + 1, second_space - first_space - 1);
    size_t length = 0;
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                         : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = lower(line.substr(0, colon));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
          value.erase(0, 1);
        if (name == "content-length")
          length = std::stoul(value);
        req.headers[name] = value;
      }
      pos = next;
    }
    while (buffer.size() < head_end + 4 + length) {
      auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    req.body = buffer.substr(head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);
    auto res = handler_(req);
    auto out = "HTTP/1.1 " + std::to_string(res.status) +
               " X\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) {
      ::close(fd);
      return;
    }
  }
}

} // namespace orchd::test
