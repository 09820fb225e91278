// A small Telegram Bot API on a loopback port the OS chooses: keeps the
// chats' messages (send, edit, delete answer as Telegram does, with its
// error texts), records every call with the time it came, and can be told
// to fail or answer 429, so tests see what orchd sent, when, and what is
// left in each chat.
#pragma once

#include "tests/support/loopback_http.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace orchd::test {

class fake_telegram {
public:
  using clock = std::chrono::steady_clock;

  struct call {
    /// sendMessage, editMessageText, deleteMessage.
    std::string method;
    std::string token;
    std::string chat;
    int64_t message_id = 0;
    std::string text;
    int status = 0;
    clock::time_point at;
  };

  fake_telegram();

  std::string base_url() const { return server_.base_url(); }

  std::vector<call> calls() const;

  /// The chat's messages not deleted: id -> text.
  std::map<int64_t, std::string> live(const std::string& chat) const;

  /// The chat's live messages whose text names the work item (its card).
  std::vector<int64_t> cards_of(const std::string& chat,
                                const std::string& work_item) const;

  /// The next `n` calls of `method` ("" : any) answer `status` with `body`
  /// and change nothing.
  void fail_next(const std::string& method, int n, int status,
                 std::string body);

  /// From now on every call answers 502 (false: normal again).
  void go_down(bool down) {
    std::lock_guard<std::mutex> guard{mtx_};
    down_ = down;
  }

private:
  loopback_http::response reply(const loopback_http::request& r);

  struct failure {
    std::string method;
    int n = 0;
    int status = 0;
    std::string body;
  };

  mutable std::mutex mtx_;
  std::vector<call> calls_;
  std::map<std::string, std::map<int64_t, std::string>> chats_;
  std::vector<failure> failures_;
  bool down_ = false;
  int64_t next_id_ = 100;
  /// Last: stopped before the members it answers from.
  loopback_http server_;
};

} // namespace orchd::test
