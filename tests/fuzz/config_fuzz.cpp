// The configuration reader and its checks: any text gives a config or an
// error naming what is wrong, never a crash or an exception.
#include "actors/logic/config.hpp"

#include <cstdint>
#include <string>

using namespace orchd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text{reinterpret_cast<const char*>(data), size};
  auto cfg = parse_config(text);
  if (cfg) {
    (void)validate_config(*cfg);
    (void)to_json(*cfg).dump(-1, ' ', false,
                             nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
