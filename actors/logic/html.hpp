// HTML text for the APIs that take it (Telegram's parse mode HTML, Plane's
// comment_html).
#pragma once

#include <string>
#include <string_view>

namespace orchd::html {

/// `<`, `>`, `&` and `"` as entities; everything else as it is.
std::string escape(std::string_view text);

} // namespace orchd::html
