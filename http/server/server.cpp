// The listener: accepts connections, caps how many are open, and runs the
// io_context threads.
#include "http/server/server.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "http/server/session.hpp"

#include <boost/asio/strand.hpp>

#include <algorithm>

namespace orchd::http {

server::server(server_options opts)
    : impl_(std::make_shared<impl>(std::move(opts))) {}

server::~server() {
  stop();
}

void server::impl::accept(listener& l) {
  // Each connection gets its own strand.
  l.acceptor.async_accept(net::make_strand(ioc), [this,
                                                  &l](beast::error_code ec,
                                                      tcp::socket socket) {
    if (ec == net::error::operation_aborted)
      return;
    if (ec)
      return accept_failed(l, ec);
    if (l.failures > 0) {
      log::info("http: accepting again after ", l.failures, " failed accepts");
      l.failures = 0;
      l.backoff = std::chrono::milliseconds{0};
    }
    auto open = ++open_connections;
    metrics::add("orchd_http_connections_open", {}, 1);
    auto s = std::make_shared<session>(std::move(socket), *this, l.serves);
    if (open > opts.max_connections)
      s->refuse_busy();
    else
      s->start();
    accept(l);
  });
}

void server::impl::accept_failed(listener& l, const beast::error_code& ec) {
  // Said once per burst: out of fds, every retry fails the same way.
  if (l.failures++ == 0)
    log::warn("http: accept failed: ", ec.message(),
              "; retrying with backoff (said again when it recovers)");
  constexpr std::chrono::milliseconds first{10}, most{1000};
  l.backoff =
      std::min(most, l.backoff == l.backoff.zero() ? first : l.backoff * 2);
  l.retry.expires_after(l.backoff);
  l.retry.async_wait([this, &l](beast::error_code wait_ec) {
    if (!wait_ec)
      accept(l);
  });
}

namespace {

caf::expected<tcp::acceptor> bind_to(net::io_context& ioc,
                                     const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec)
    return caf::make_error(ec::invalid_config,
                           "listen address " + host + ": " + ec.message());
  tcp::endpoint endpoint{address, port};
  tcp::acceptor acceptor{ioc};
  auto fail = [&](const char* what) {
    return caf::make_error(ec::bind_failed,
                           std::string{"cannot "} + what + " " + host + ":" +
                               std::to_string(port) + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec)
    return fail("open");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec)
    return fail("configure");
  acceptor.bind(endpoint, ec);
  if (ec)
    return fail("bind");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen on");
  return acceptor;
}

} // namespace

caf::expected<uint16_t> server::listen() {
  auto& d = *impl_;
  d.listeners.clear();
  auto add = [&](const std::string& host, uint16_t port,
                 surface serves) -> caf::error {
    auto acceptor = bind_to(d.ioc, host, port);
    if (!acceptor)
      return acceptor.error();
    d.listeners.push_back(std::make_unique<impl::listener>(impl::listener{
        std::move(*acceptor), serves, net::steady_timer{d.ioc}}));
    return caf::none;
  };
  auto& admin = d.opts.admin_listen;
  if (auto err = add(d.opts.address, d.opts.port,
                     admin ? surface::webhooks : surface::all))
    return err;
  if (admin)
    if (auto err = add(admin->address, admin->port, surface::admin))
      return err;
  return d.listeners.front()->acceptor.local_endpoint().port();
}

uint16_t server::admin_port() const {
  auto& d = *impl_;
  if (d.listeners.size() < 2)
    return 0;
  return d.listeners[1]->acceptor.local_endpoint().port();
}

void server::serve(backends actors) {
  auto& d = *impl_;
  d.actors = std::move(actors);
  for (auto& l : d.listeners)
    d.accept(*l);
  for (int i = 0; i < d.opts.threads; ++i)
    d.threads.emplace_back([&d] { d.ioc.run(); });
}

void server::stop() {
  auto& d = *impl_;
  if (d.threads.empty())
    return;
  net::post(d.ioc, [&d] {
    beast::error_code ignored;
    for (auto& l : d.listeners) {
      l->acceptor.close(ignored);
      l->retry.cancel();
    }
  });
  d.ioc.stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();
}

} // namespace orchd::http
