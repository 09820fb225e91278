#include "actors/core/type_ids.hpp"

#include "actors/core/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>

#include <algorithm>
#include <thread>

namespace orchd {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::orchd>();
  // The templated add_error_category<T>(atom) does not compile in 0.17.6:
  // register a renderer instead.
  cfg.add_error_category(caf::atom("orchd"), [](uint8_t code, caf::atom_value,
                                                const caf::message& ctx) {
    std::string result = "orchd::";
    result += to_string(static_cast<ec>(code));
    if (!ctx.empty()) {
      result += ": ";
      result += to_string(ctx);
    }
    return result;
  });
}

void configure_scheduler(caf::actor_system_config& cfg) {
  auto cores = static_cast<size_t>(std::thread::hardware_concurrency());
  cfg.set("scheduler.max-threads", std::max<size_t>(2, cores));
  cfg.set("work-stealing.moderate-poll-attempts", 0);
}

} // namespace orchd
