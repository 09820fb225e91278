// A small HTTP/1.1 server on a loopback port the OS chooses, for the fake
// APIs orchd calls (Plane, Telegram): each request, read whole with
// keep-alive, goes to the handler; its answer goes back.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace orchd::test {

class loopback_http {
public:
  struct request {
    std::string method;
    std::string target;
    /// Lower-case names.
    std::map<std::string, std::string> headers;
    std::string body;
  };

  struct response {
    int status = 200;
    std::string body = "{}";
  };

  using handler = std::function<response(const request&)>;

  explicit loopback_http(handler h);
  ~loopback_http();
  loopback_http(const loopback_http&) = delete;
  loopback_http& operator=(const loopback_http&) = delete;

  uint16_t port() const { return port_; }
  std::string base_url() const;

private:
  void serve();
  void session(int fd);

  handler handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mtx_;
  std::vector<int> sessions_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

} // namespace orchd::test
