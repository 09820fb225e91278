// The signature header parsers: the input is "header\nbody". A header the
// fuzzer makes must never be accepted unless it is the body's real HMAC,
// and nothing may crash.
#include "actors/logic/signature.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace orchd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in{reinterpret_cast<const char*>(data), size};
  auto cut = in.find('\n');
  auto header = in.substr(0, cut);
  auto body =
      cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 1);
  static const std::string secret = "fuzz-secret";
  auto mac = hmac_sha256_hex(secret, body);
  bool plane = plane_signature_valid(secret, body, header);
  bool github = github_signature_valid(secret, body, header);
  if (plane && header != mac)
    std::abort();
  if (github && header != "sha256=" + mac)
    std::abort();
  (void)secret_matches(secret, header);
  return 0;
}
