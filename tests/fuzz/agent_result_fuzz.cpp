// The agent result parser and the run classifier: any stdout gives a
// verdict, never a crash; success only when the result says so.
#include "actors/logic/agent_result.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace orchd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view out{reinterpret_cast<const char*>(data), size};
  auto result = parse_agent_result(out, 1700000000);
  auto verdict = classify_run(result, 0);
  if (verdict.kind == run_kind::success &&
      (!result.parsed || result.is_error || result.subtype != "success"))
    std::abort();
  if (verdict.retry_after_s < 0)
    std::abort();
  (void)transient_delay_s(result.usage.input_tokens.value_or(0) % 64, 10, 600,
                          verdict.retry_after_s);
  return 0;
}
