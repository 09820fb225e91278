#include "console/table.hpp"

#include <algorithm>

namespace orchd::console {

namespace {

size_t width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

} // namespace

std::string paint(const std::string& text, colour c) {
  const char* code = nullptr;
  switch (c) {
  case colour::none:
    return text;
  case colour::green:
    code = "\033[32m";
    break;
  case colour::yellow:
    code = "\033[33m";
    break;
  case colour::red:
    code = "\033[31m";
    break;
  case colour::dim:
    code = "\033[2m";
    break;
  case colour::bold:
    code = "\033[1m";
    break;
  }
  return code + text + "\033[0m";
}

table::table(std::vector<std::string> head)
    : head_(std::move(head)) {}

void table::add(std::vector<std::string> cells, std::vector<colour> colours) {
  cells.resize(head_.size());
  colours.resize(head_.size(), colour::none);
  rows_.push_back(std::move(cells));
  colours_.push_back(std::move(colours));
}

std::string table::render(bool coloured) const {
  std::vector<size_t> widths(head_.size());
  for (size_t i = 0; i < head_.size(); ++i) {
    widths[i] = width(head_[i]);
    for (auto& r : rows_)
      widths[i] = std::max(widths[i], width(r[i]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells,
                  const std::vector<colour>* colours, bool head) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      auto cell = cells[i];
      bool last = i + 1 == cells.size();
      std::string pad = last ? "" : std::string(widths[i] - width(cell), ' ');
      auto c = head ? colour::bold : (*colours)[i];
      text += (coloured ? paint(cell, c) : cell) + pad;
      if (!last)
        text += "  ";
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out += text + "\n";
  };
  line(head_, nullptr, true);
  for (size_t r = 0; r < rows_.size(); ++r)
    line(rows_[r], &colours_[r], false);
  return out;
}

std::string clip(const std::string& text, size_t n) {
  std::string flat;
  for (auto c : text)
    flat += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (width(flat) <= n)
    return flat;
  std::string out;
  size_t seen = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    auto c = static_cast<unsigned char>(flat[i]);
    if ((c & 0xC0) != 0x80 && ++seen > n - 1)
      break;
    out += flat[i];
  }
  return out + "…";
}

} // namespace orchd::console
