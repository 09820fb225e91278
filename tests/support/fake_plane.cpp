#include "tests/support/fake_plane.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace orchd::test {

namespace {

std::string lower(std::string x) {
  for (auto& c : x)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return x;
}

bool ends_with(const std::string& x, const std::string& tail) {
  return x.size() >= tail.size() &&
         x.compare(x.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

fake_plane::fake_plane(std::map<std::string, std::string> states)
    : states_(std::move(states)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) !=
          0 ||
      ::listen(listen_fd_, 16) != 0)
    throw std::runtime_error("fake_plane: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] {
    serve();
  }};
}

fake_plane::~fake_plane() {
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

std::string fake_plane::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::vector<fake_plane::call> fake_plane::calls() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return calls_;
}

std::vector<std::string> fake_plane::accepted() const {
  std::vector<std::string> out;
  for (auto& c : calls())
    if (c.status >= 200 && c.status < 300)
      out.push_back(c.method + " " + c.target +
                    (c.body.empty() ? "" : " " + c.body));
  return out;
}

void fake_plane::add_work_item(std::string item_json) {
  std::lock_guard<std::mutex> guard{mtx_};
  items_.push_back(std::move(item_json));
}

void fake_plane::add_human_comment(std::string text) {
  std::lock_guard<std::mutex> guard{mtx_};
  human_comments_.push_back(std::move(text));
}

void fake_plane::serve() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0)
      return;
    std::lock_guard<std::mutex> guard{mtx_};
    sessions_.push_back(fd);
    threads_.emplace_back([this, fd] { session(fd); });
  }
}

// HTTP/1.1 with keep-alive: requests read one after another until the
// client closes.
void fake_plane::session(int fd) {
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
    call c;
    auto first_space = head.find(' ');
    auto second_space = head.find(' ', first_space + 1);
    c.method = head.substr(0, first_space);
    c.target = head.substr(first_space + 1, second_space - first_space - 1);
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
        if (name == "x-api-key")
          c.api_key = value;
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
    c.body = buffer.substr(head_end + 4, length);
    buffer.erase(0, head_end + 4 + length);
    std::string answer = "{}";
    c.status = 200;
    if (auto failing = failing_.load()) {
      c.status = failing;
      answer = R"({"error":"told to fail"})";
    } else if (c.method == "GET" && ends_with(c.target, "/states/")) {
      nlohmann::json list = nlohmann::json::array();
      for (auto& [name, id] : states_)
        list.push_back({{"id", id}, {"name", name}, {"group", "started"}});
      answer = nlohmann::json{{"results", list}}.dump();
    } else if (c.method == "GET" &&
               c.target.find("/work-items/?") != std::string::npos) {
      // Two items a page; the cursor is the offset.
      size_t offset = 0;
      auto at = c.target.find("cursor=");
      if (at != std::string::npos)
        offset = std::stoul(c.target.substr(at + 7));
      nlohmann::json page = nlohmann::json::array();
      std::lock_guard<std::mutex> guard{mtx_};
      for (size_t i = offset; i < items_.size() && i < offset + 2; ++i)
        page.push_back(nlohmann::json::parse(items_[i]));
      bool more = offset + 2 < items_.size();
      answer = nlohmann::json{
          {"results", page},
          {"next_cursor", std::to_string(offset + 2)},
          {"next_page_results",
           more}}.dump();
    } else if (c.method == "GET" && ends_with(c.target, "/comments/")) {
      // orchd's comments (as posted), then the people's, oldest first.
      nlohmann::json list = nlohmann::json::array();
      std::lock_guard<std::mutex> guard{mtx_};
      int n = 0;
      for (auto& posted : calls_)
        if (posted.method == "POST" && posted.status == 201) {
          auto body = nlohmann::json::parse(posted.body);
          body["created_at"] = "2026-04-01T10:00:0" + std::to_string(n++ % 10);
          list.push_back(body);
        }
      for (auto& text : human_comments_)
        list.push_back({{"comment_html", "<p>" + text + "</p>"},
                        {"created_at", "2026-04-01T11:00:00"}});
      answer = nlohmann::json{{"results", list}}.dump();
    } else if (c.method == "POST" && ends_with(c.target, "/comments/")) {
      c.status = 201;
    } else if (c.method != "PATCH") {
      c.status = 404;
    }
    {
      std::lock_guard<std::mutex> guard{mtx_};
      calls_.push_back(c);
    }
    auto response = "HTTP/1.1 " + std::to_string(c.status) +
                    " X\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(answer.size()) + "\r\n\r\n" + answer;
    if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) < 0) {
      ::close(fd);
      return;
    }
  }
}

} // namespace orchd::test
