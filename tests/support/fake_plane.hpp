// A small Plane REST API on a loopback port the OS chooses: answers the
// calls orchd makes (states list, state change, comment), records each one,
// and can be told to fail, so tests see what orchd sent and when.
#pragma once

#include "tests/support/loopback_http.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace orchd::test {

class fake_plane {
public:
  struct call {
    std::string method;
    std::string target;
    std::string api_key;
    std::string body;
    /// The status it was answered with.
    int status = 0;
  };

  /// `states`: name -> id of the project's states.
  explicit fake_plane(std::map<std::string, std::string> states);
  fake_plane(const fake_plane&) = delete;
  fake_plane& operator=(const fake_plane&) = delete;

  uint16_t port() const { return server_.port(); }
  std::string base_url() const;

  /// Every call answered so far, in order.
  std::vector<call> calls() const;
  /// The calls answered 2xx, as "METHOD target body" lines.
  std::vector<std::string> accepted() const;

  /// From now on every call is answered `status` (0: normal again).
  void fail_with(int status) { failing_ = status; }

  /// A work item the project lists (GET .../work-items/, two per page).
  void add_work_item(std::string item_json);

  /// A comment a person wrote: listed (GET .../comments/) after orchd's.
  void add_human_comment(std::string text);

private:
  loopback_http::response reply(const loopback_http::request& r);

  std::map<std::string, std::string> states_;
  std::atomic<int> failing_{0};
  mutable std::mutex mtx_;
  std::vector<call> calls_;
  std::vector<std::string> items_;
  std::vector<std::string> human_comments_;
  /// Last: stopped (its sessions joined) before the members it answers from.
  loopback_http server_;
};

} // namespace orchd::test
