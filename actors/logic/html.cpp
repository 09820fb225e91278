#include "actors/logic/html.hpp"

namespace orchd::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (auto c : text) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

} // namespace orchd::html
