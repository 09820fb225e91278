// The HTTP request path without a daemon: bytes in, answer out. The bytes
// go through the server's own parser set-up, header checks and route table,
// then, for a webhook, through intake's checks (signature, header grammar,
// payload) and the answer's JSON; for an admin route, the answer an error
// would get. Nothing may crash, hang or throw.
#include "actors/core/error.hpp"
#include "actors/intake/intake.hpp"
#include "http/server/session.hpp"

#include <cstdint>
#include <cstdlib>

using namespace orchd;
using namespace orchd::http;

namespace {

http::server_options options() {
  http::server_options opts;
  opts.admin_token = "fuzz-admin-token-0123456789abcdef";
  // Small limits, so the fuzzer reaches them.
  opts.header_limit = 2048;
  opts.body_limit = 1024;
  opts.webhook_body_limit = 8192;
  return opts;
}

intake_settings settings() {
  intake_settings s;
  // One source signed, one not: both paths are reachable.
  s.plane_secret = "plane-secret";
  s.allow_unsigned_github = true;
  return s;
}

// The answer must be an HTTP status with a JSON body.
void check(const http_answer& a) {
  if (a.status < 200 || a.status > 599 || a.body.empty() || a.body[0] != '{')
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto opts = options();
  static const auto intake = settings();
  request_parser p;
  prepare_parser(p, opts);
  p.eager(false);
  boost::asio::const_buffer in{data, size};
  beast::error_code err;
  // The header first, as the session reads it.
  while (!err && !p.is_header_done() && in.size() > 0) {
    auto used = p.put(in, err);
    if (used == 0 && err == bhttp::error::need_more)
      break;
    in += used;
    if (err == bhttp::error::need_more)
      err = {};
  }
  if (err) {
    check(read_error_answer(err));
    return 0;
  }
  if (!p.is_header_done())
    return 0; // the session would wait for more, then time out
  auto verdict = check_header(p, opts);
  if (verdict.refusal) {
    check(*verdict.refusal);
    return 0;
  }
  p.body_limit(verdict.body_limit);
  p.eager(true);
  while (!err && !p.is_done() && in.size() > 0) {
    auto used = p.put(in, err);
    in += used;
    if (err == bhttp::error::need_more)
      err = {};
    if (used == 0 && !err)
      break;
  }
  if (!err && !p.is_done()) {
    p.put_eof(err);
    if (!err && !p.is_done())
      return 0;
  }
  if (err) {
    check(read_error_answer(err));
    return 0;
  }
  auto req = p.release();
  if (!verdict.found.is_webhook()) {
    check(answer_error(
        caf::make_error(orchd::ec::malformed_payload, req.body())));
    return 0;
  }
  auto d = delivery_of(verdict.found, req);
  auto decision = check_delivery(d, intake);
  if (decision.refusal) {
    check(answer_error(decision.refusal));
    return 0;
  }
  webhook_receipt receipt;
  receipt.event_id = 1;
  receipt.ignored_because = decision.ignored_because;
  check(answer(receipt));
  return 0;
}
