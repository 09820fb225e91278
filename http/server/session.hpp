// Internal to http/: the per-connection session and the route table.
#pragma once

#include "http/server/answers.hpp"
#include "http/server/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace orchd::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using request = bhttp::request<bhttp::string_body>;
using response = bhttp::response<bhttp::string_body>;

/// What a route is, known from the request line alone.
struct route {
  enum kind_t {
    not_found,
    wrong_method,
    plane,
    github,
    health,
    queue,
    tasks,
    task,
    job,
    cancel_job,
    requeue_job,
    unfreeze,
    freezes,
    task_deps,
    retry_setup,
    cancel_task,
    backup,
    actors,
    actor,
    metrics,
    job_log,
    jobs,
    costs,
    task_budget
  } kind;
  /// Allowed method, for 405's Allow header.
  const char* allow = "";
  /// The {id} of /tasks/{id}, /jobs/{id} and their sub-paths.
  int64_t id = 0;
  /// The {name} of /actors/{name}.
  std::string name = {};
  /// Its name in /metrics (`/jobs/{id}`: one series for every id).
  const char* label() const;
  bool is_webhook() const { return kind == plane || kind == github; }
  /// Routes behind the admin token.
  bool is_admin() const {
    return kind != not_found && kind != wrong_method && kind != health &&
           !is_webhook();
  }
  /// Routes whose body is a JSON document (415 otherwise).
  bool takes_json() const {
    return is_webhook() || kind == unfreeze || kind == task_deps ||
           kind == backup || kind == task_budget;
  }
};

/// Finds the route of a method and target (path and query).
route find_route(bhttp::verb method, beast::string_view target);

using request_parser = bhttp::request_parser<bhttp::string_body>;

/// Which routes a listener serves: all of them, or (with `admin.listen`
/// set) the webhooks on one and the admin routes on the other, /healthz on
/// both. A route a listener does not serve is not found there.
enum class surface { all, webhooks, admin };

/// Starts a parser for one request: the header limit, and until the route
/// is known the largest body limit.
void prepare_parser(request_parser& p, const server_options& opts);

/// The answer to a request that could not be read (413, 431, 400).
http_answer read_error_answer(beast::error_code ec);

/// What a request's header alone decides, before its body is read: its
/// route and body limit, or the answer that refuses it (400, 404, 405, 401,
/// 415, 413).
struct header_verdict {
  route found{route::not_found};
  size_t body_limit = 0;
  std::optional<http_answer> refusal;
};
header_verdict check_header(const request_parser& p, const server_options& opts,
                            surface serves = surface::all);

/// The webhook delivery a complete request to a webhook route carries (its
/// body moved out).
webhook_delivery delivery_of(const route& r, request& req);

/// Hands a complete request to its actor; `respond` may run on any thread.
void dispatch_request(const route& r, request& req, const backends& actors,
                      std::function<void(http_answer)> respond);

/// The server's state. Members are destroyed in reverse order: the
/// io_context (and with it every queued handler and idle session) goes
/// before the options and actors the sessions refer to. A pending actor
/// reply holds a shared_ptr to it, so a reply that comes late posts onto a
/// stopped io_context instead of a destroyed one.
struct server::impl : std::enable_shared_from_this<server::impl> {
  explicit impl(server_options o)
      : opts(std::move(o)) {}

  server_options opts;
  backends actors;
  std::atomic<size_t> open_connections{0};
  /// Body bytes reserved by the requests being read or answered, across
  /// every connection (bounded by opts.max_buffered_bytes).
  std::atomic<size_t> buffered_bytes{0};
  net::io_context ioc;
  struct listener {
    tcp::acceptor acceptor;
    surface serves;
    /// After a failed accept (out of fds, say) the next one waits: a
    /// listening socket with a pending connection is always ready, so
    /// accepting again at once would spin.
    net::steady_timer retry;
    std::chrono::milliseconds backoff{0};
    /// Failed accepts of the current burst (said at its start and end).
    uint64_t failures = 0;
  };
  /// The main listener first.
  std::vector<std::unique_ptr<listener>> listeners;
  std::vector<std::thread> threads;

  void accept(listener& l);
  void accept_failed(listener& l, const beast::error_code& ec);
};

/// One connection: reads requests one at a time (header first, so limits
/// and the route are known before the body is read), answers each, and
/// echoes keep-alive.
class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, server::impl& server, surface serves);
  ~session();

  void start();

  /// Answers 503 and closes (connection cap reached).
  void refuse_busy();

private:
  void read_header();
  void on_header(beast::error_code ec, size_t);
  void on_body(beast::error_code ec, size_t);
  void answer(http_answer a, bool keep_alive);
  void note_answer(const http_answer& a);
  void on_written(bool close, beast::error_code ec, size_t);
  void close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<response> out_;
  route route_{route::not_found};
  server::impl& server_;
  surface serves_;
  net::steady_timer reply_timer_;
  /// Reserves the body bytes of the request just read (its declared
  /// length, or its route's limit when chunked) from the server's budget;
  /// false when that would pass it.
  bool reserve_body(size_t bytes);
  void release_body();

  size_t reserved_ = 0;
  /// Bumped per request, so a late actor reply for an answered (timed-out)
  /// request is dropped.
  uint64_t request_seq_ = 0;
  bool answered_ = true;
  /// The request reached its actor (a webhook's refusal is then intake's
  /// to log).
  bool dispatched_ = false;
};

} // namespace orchd::http
