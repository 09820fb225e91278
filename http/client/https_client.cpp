#include "http/client/https_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <mutex>

namespace orchd::http_client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<url_parts> parse_url(const std::string& url) {
  url_parts out;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    out.tls = false;
    rest = url.substr(7);
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    return std::nullopt;
  std::string::size_type colon;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return std::nullopt;
    out.host = authority.substr(1, close - 1);
    colon = authority.find(':', close);
  } else {
    colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
  }
  out.port = colon == std::string::npos ? (out.tls ? "443" : "80")
                                        : authority.substr(colon + 1);
  if (out.host.empty() || out.port.empty() ||
      out.port.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return out;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1")
    return true;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

struct client::impl {
  std::chrono::seconds timeout;
  asio::io_context ioc;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  // The kept-alive connection and whom it is to.
  std::string key;
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> secure;

  explicit impl(std::chrono::seconds t)
      : timeout(t) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
  }

  void close() {
    boost::system::error_code ignored;
    if (secure)
      secure->lowest_layer().close(ignored);
    if (plain)
      plain->close(ignored);
    secure.reset();
    plain.reset();
    key.clear();
  }

  // Blocking reads and writes that give up after the timeout (Asio's
  // synchronous calls have none of their own).
  void bound(tcp::socket& s) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count());
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  void connect(const url_parts& u, tcp::socket& s) {
    tcp::resolver resolver{ioc};
    auto endpoints = resolver.resolve(u.host, u.port);
    boost::system::error_code ec = asio::error::host_not_found;
    for (auto& e : endpoints) {
      s.close(ec);
      s.open(e.endpoint().protocol());
      bound(s);
      s.connect(e.endpoint(), ec);
      if (!ec)
        return;
    }
    throw boost::system::system_error{ec};
  }

  void open(const url_parts& u) {
    close();
    if (u.tls) {
      secure = std::make_unique<asio::ssl::stream<tcp::socket>>(ioc, tls);
      if (!SSL_set_tlsext_host_name(secure->native_handle(), u.host.c_str()))
        throw std::runtime_error("cannot set the TLS server name");
      secure->set_verify_callback(asio::ssl::host_name_verification(u.host));
      connect(u, secure->next_layer());
      secure->handshake(asio::ssl::stream_base::client);
    } else {
      plain = std::make_unique<tcp::socket>(ioc);
      connect(u, *plain);
    }
    key = (u.tls ? "https://" : "http://") + u.host + ":" + u.port;
  }

  template <class Stream>
  http::response<http::string_body>
  exchange(Stream& s, http::request<http::string_body>& req) {
    http::write(s, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    http::read(s, buffer, parser);
    return parser.release();
  }

  outbound_response send(const outbound_request& r) {
    outbound_response out;
    auto u = parse_url(r.url);
    if (!u) {
      out.error = "not an http(s) URL: " + r.url;
      return out;
    }
    if (!u->tls && !is_loopback_host(u->host)) {
      out.error =
          "plain http is allowed only to a loopback host, not " + u->host;
      return out;
    }
    http::request<http::string_body> req;
    req.method_string(r.method);
    req.target(u->target);
    req.version(11);
    req.set(http::field::host, u->host);
    req.set(http::field::user_agent, "orchd");
    req.set(http::field::accept, "application/json");
    for (auto& [k, v] : r.headers)
      req.set(k, v);
    if (!r.body.empty())
      req.set(http::field::content_type, "application/json");
    req.body() = r.body;
    req.prepare_payload();
    auto wanted = (u->tls ? "https://" : "http://") + u->host + ":" + u->port;
    // A kept-alive connection may have been closed by the server: one
    // more try on a fresh one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = key == wanted;
      try {
        if (!reused)
          open(*u);
        auto res = secure ? exchange(*secure, req) : exchange(*plain, req);
        out.status = static_cast<int>(res.result_int());
        for (auto& f : res)
          out.headers.emplace_back(std::string{f.name_string()},
                                   std::string{f.value()});
        out.body = std::move(res.body());
        out.error.clear();
        if (!res.keep_alive())
          close();
        return out;
      } catch (const std::exception& e) {
        close();
        out.error = e.what();
        if (!reused)
          break;
      }
    }
    return out;
  }
};

client::client(std::chrono::seconds timeout)
    : impl_(std::make_unique<impl>(timeout)) {}

client::~client() = default;

outbound_response client::send(const outbound_request& request) {
  return impl_->send(request);
}

outbound_send make_sender(std::chrono::seconds timeout) {
  struct shared {
    std::mutex mtx;
    client c;
    explicit shared(std::chrono::seconds t)
        : c(t) {}
  };
  auto s = std::make_shared<shared>(timeout);
  return [s](const outbound_request& r) {
    std::lock_guard<std::mutex> guard{s->mtx};
    return s->c.send(r);
  };
}

} // namespace orchd::http_client
