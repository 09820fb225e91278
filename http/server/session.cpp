#include "http/server/session.hpp"

#include "http/server/answers.hpp"

#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/logic/signature.hpp"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace orchd::http {

session::session(tcp::socket&& socket, server::impl& server, surface serves)
    : stream_(std::move(socket))
    , server_(server)
    , serves_(serves)
    , reply_timer_(stream_.get_executor()) {}

session::~session() {
  release_body();
  --server_.open_connections;
  metrics::add("orchd_http_connections_open", {}, -1);
}

bool session::reserve_body(size_t bytes) {
  auto& total = server_.buffered_bytes;
  auto cap = server_.opts.max_buffered_bytes;
  auto now = total.load();
  do {
    if (now > cap || bytes > cap - now)
      return false;
  } while (!total.compare_exchange_weak(now, now + bytes));
  reserved_ = bytes;
  return true;
}

void session::release_body() {
  server_.buffered_bytes -= reserved_;
  reserved_ = 0;
}

void session::start() {
  // Start on the connection's strand.
  net::dispatch(
      stream_.get_executor(),
      beast::bind_front_handler(&session::read_header, shared_from_this()));
}

// Counts the answer, and logs a refusal in one line: method, path (never
// the query or a body), status and the error text orchd wrote.
void session::note_answer(const http_answer& a) {
  metrics::add(
      "orchd_http_requests_total",
      {{"route", route_.label()}, {"status", std::to_string(a.status)}});
  if (a.status < 400)
    return;
  if (route_.is_webhook() && dispatched_ && a.status != 503)
    return; // intake logged why it refused the delivery
  std::string method;
  std::string path;
  if (parser_) {
    auto& req = parser_->get();
    method = std::string{req.method_string()};
    auto target = req.target();
    path = std::string{target.substr(0, target.find('?'))};
  }
  if (route_.is_webhook() && !dispatched_)
    metrics::add("orchd_webhooks_total",
                 {{"source", route_.kind == route::plane ? "plane" : "github"},
                  {"answer", "rejected"},
                  {"reason", std::to_string(a.status)}});
  auto error = nlohmann::json::parse(a.body, nullptr, false);
  log::event(
      log::level::info, "rejected", "orchd.http: ", method, " ",
      path.size() > 200 ? path.substr(0, 200) + "..." : path, " -> ", a.status,
      error.is_object() && error.contains("error") && error["error"].is_string()
          ? ": " + error["error"].get<std::string>()
          : std::string{});
}

void session::refuse_busy() {
  answer(error_answer(503, "too many open connections"), false);
}

void session::read_header() {
  // A fresh parser per request: limits apply to this request alone.
  parser_.emplace();
  route_ = route{route::not_found};
  dispatched_ = false;
  prepare_parser(*parser_, server_.opts);
  stream_.expires_after(server_.opts.header_timeout);
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&session::on_header, shared_from_this()));
}

namespace {

bool is_json(beast::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ')
    type.remove_suffix(1);
  return beast::iequals(type, "application/json");
}

} // namespace

void prepare_parser(request_parser& p, const server_options& opts) {
  p.header_limit(static_cast<uint32_t>(opts.header_limit));
  // The route, and so its body limit, is known only after the header: until
  // then the largest limit applies (a declared length beyond it is refused
  // while the header is parsed).
  p.body_limit(std::max(opts.body_limit, opts.webhook_body_limit));
}

http_answer read_error_answer(beast::error_code ec) {
  if (ec == bhttp::error::body_limit)
    return error_answer(413, "body too large");
  if (ec == bhttp::error::header_limit)
    return error_answer(431, "request headers too large");
  return error_answer(400, "malformed request: " + ec.message());
}

header_verdict check_header(const request_parser& p, const server_options& opts,
                            surface serves) {
  header_verdict out;
  auto refuse = [&](int status, std::string text) {
    out.refusal = error_answer(status, text);
    return out;
  };
  auto& req = p.get();
  // Beast accepts repeated equal Content-Lengths; a smuggling-safe server
  // does not.
  if (req.count(bhttp::field::content_length) > 1)
    return refuse(400, "more than one Content-Length");
  out.found = find_route(req.method(), req.target());
  auto& r = out.found;
  if ((serves == surface::webhooks && r.is_admin()) ||
      (serves == surface::admin && r.is_webhook()))
    r = route{route::not_found};
  if (r.kind == route::not_found)
    return refuse(404, "no such path");
  if (r.kind == route::wrong_method)
    return refuse(405, std::string{"use "} + r.allow);
  if (r.is_admin() &&
      (r.kind != route::metrics || opts.metrics_require_token)) {
    auto auth = req[bhttp::field::authorization];
    constexpr beast::string_view scheme = "Bearer ";
    bool ok = auth.size() > scheme.size() &&
              beast::iequals(auth.substr(0, scheme.size()), scheme) &&
              secret_matches(opts.admin_token,
                             std::string_view{auth.data() + scheme.size(),
                                              auth.size() - scheme.size()});
    if (!ok)
      return refuse(401, "admin routes need "
                         "Authorization: Bearer <admin token>");
  }
  out.body_limit = r.is_webhook() ? opts.webhook_body_limit : opts.body_limit;
  if (r.takes_json() && !is_json(req[bhttp::field::content_type]))
    return refuse(415, "Content-Type must be application/json");
  if (auto declared = p.content_length();
      declared && *declared > out.body_limit)
    return refuse(413, "body larger than " + std::to_string(out.body_limit) +
                           " bytes");
  return out;
}

void session::on_header(beast::error_code ec, size_t) {
  if (ec == bhttp::error::end_of_stream || ec == net::error::eof)
    return close();
  if (ec == beast::error::timeout) {
    log::debug("http: header read timed out, closing");
    return close();
  }
  if (ec)
    return answer(read_error_answer(ec), false);
  auto verdict = check_header(*parser_, server_.opts, serves_);
  route_ = verdict.found;
  dispatched_ = false;
  if (verdict.refusal)
    return answer(std::move(*verdict.refusal), false);
  parser_->body_limit(verdict.body_limit);
  // Memory before the signature: what all connections may hold at once is
  // capped, so stalled large uploads cannot take the daemon's memory.
  auto declared = parser_->content_length();
  auto expected = parser_->is_done() ? 0
                  : declared         ? static_cast<size_t>(*declared)
                                     : verdict.body_limit;
  if (!reserve_body(expected)) {
    log::debug("http: request bodies in flight at their cap, refusing one");
    return answer(error_answer(503, "too many request bytes in flight, "
                                    "retry later"),
                  false);
  }
  stream_.expires_after(server_.opts.body_timeout);
  bhttp::async_read(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&session::on_body, shared_from_this()));
}

void session::on_body(beast::error_code ec, size_t) {
  if (ec == beast::error::timeout) {
    log::debug("http: body read timed out, closing");
    return close();
  }
  if (ec)
    return answer(read_error_answer(ec), false);
  stream_.expires_never();
  auto& req = parser_->get();
  auto keep_alive = req.keep_alive();
  answered_ = false;
  auto seq = ++request_seq_;
  auto self = shared_from_this();
  auto server = server_.shared_from_this();
  // The actor's reply comes on a CAF thread: post it to this connection's
  // strand. `server` keeps the io_context alive for the post.
  auto respond = [self, server, seq, keep_alive](http_answer a) {
    net::post(self->stream_.get_executor(),
              [self, seq, keep_alive, a = std::move(a)]() mutable {
                if (self->answered_ || seq != self->request_seq_)
                  return;
                self->answer(std::move(a), keep_alive);
              });
  };
  reply_timer_.expires_after(server_.opts.reply_timeout);
  reply_timer_.async_wait([self, seq](beast::error_code ec) {
    if (ec || self->answered_ || seq != self->request_seq_)
      return;
    self->answer(error_answer(503, "no answer in time, retry"), false);
  });
  dispatched_ = true;
  dispatch_request(route_, req, server_.actors, std::move(respond));
}

void session::answer(http_answer a, bool keep_alive) {
  answered_ = true;
  release_body();
  reply_timer_.cancel();
  out_ = std::make_shared<response>(static_cast<bhttp::status>(a.status), 11);
  out_->set(bhttp::field::server, "orchd");
  out_->set(bhttp::field::content_type, a.content_type);
  for (auto& [k, v] : a.headers)
    out_->set(k, v);
  if (a.status == 405)
    out_->set(bhttp::field::allow, route_.allow);
  out_->keep_alive(keep_alive);
  note_answer(a);
  bool json = a.content_type == "application/json";
  out_->body() = std::move(a.body);
  if (json)
    out_->body() += '\n';
  out_->prepare_payload();
  stream_.expires_after(server_.opts.body_timeout);
  bhttp::async_write(stream_, *out_,
                     beast::bind_front_handler(&session::on_written,
                                               shared_from_this(),
                                               !keep_alive));
}

void session::on_written(bool close_after, beast::error_code ec, size_t) {
  out_.reset();
  if (ec || close_after)
    return close();
  read_header();
}

void session::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.close();
}

} // namespace orchd::http
