// The listener: accepts connections, caps how many are open, and runs the
// io_context threads.
#include "http/server/server.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "http/server/session.hpp"

#include <boost/asio/strand.hpp>

namespace orchd::http {

server::server(server_options opts)
    : impl_(std::make_shared<impl>(std::move(opts))) {}

server::~server() {
  stop();
}

void server::impl::accept() {
  // Each connection gets its own strand.
  acceptor->async_accept(
      net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          if (ec != net::error::operation_aborted) {
            log::warn("http: accept failed: ", ec.message());
            accept();
          }
          return;
        }
        auto open = ++open_connections;
        auto s = std::make_shared<session>(std::move(socket), *this);
        if (open > opts.max_connections)
          s->refuse_busy();
        else
          s->start();
        accept();
      });
}

caf::expected<uint16_t> server::listen() {
  auto& d = *impl_;
  beast::error_code ec;
  auto address = net::ip::make_address(d.opts.address, ec);
  if (ec)
    return caf::make_error(ec::invalid_config, "listen.address " +
                                                   d.opts.address + ": " +
                                                   ec.message());
  tcp::endpoint endpoint{address, d.opts.port};
  d.acceptor.emplace(d.ioc);
  auto fail = [&](const char* what) {
    return caf::make_error(ec::bind_failed, std::string{"cannot "} + what +
                                                " " + d.opts.address + ":" +
                                                std::to_string(d.opts.port) +
                                                ": " + ec.message());
  };
  d.acceptor->open(endpoint.protocol(), ec);
  if (ec)
    return fail("open");
  d.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (ec)
    return fail("configure");
  d.acceptor->bind(endpoint, ec);
  if (ec)
    return fail("bind");
  d.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return fail("listen on");
  return d.acceptor->local_endpoint().port();
}

void server::serve(backends actors) {
  auto& d = *impl_;
  d.actors = std::move(actors);
  d.accept();
  for (int i = 0; i < d.opts.threads; ++i)
    d.threads.emplace_back([&d] { d.ioc.run(); });
}

void server::stop() {
  auto& d = *impl_;
  if (d.threads.empty())
    return;
  net::post(d.ioc, [&d] {
    beast::error_code ignored;
    if (d.acceptor)
      d.acceptor->close(ignored);
  });
  d.ioc.stop();
  for (auto& t : d.threads)
    t.join();
  d.threads.clear();
}

} // namespace orchd::http
