#include "actors/type_ids.hpp"

#include "actors/error.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>

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

} // namespace orchd
