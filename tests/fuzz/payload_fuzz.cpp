// The webhook payload parsers: a Plane body, and a GitHub body of each
// event kind (picked by the first byte). Any bytes must give an event or a
// malformed_payload error, never a crash.
#include "actors/logic/webhook_payload.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace orchd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  static const char* kinds[] = {"status",       "check_run",    "check_suite",
                                "workflow_run", "pull_request", "ping",
                                "push"};
  constexpr size_t n_kinds = sizeof(kinds) / sizeof(kinds[0]);
  std::string_view body{reinterpret_cast<const char*>(data) + 1, size - 1};
  if (data[0] % (n_kinds + 1) == n_kinds) {
    if (auto ev = parse_plane_event(body, 32); ev)
      (void)ev->dedup_key();
    return 0;
  }
  auto ev = parse_github_event(kinds[data[0] % (n_kinds + 1)], body, 32);
  if (ev && ev->result != "" && ev->result != "success" &&
      ev->result != "failure" && ev->result != "pending")
    std::abort();
  return 0;
}
