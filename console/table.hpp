// Aligned text tables for people; colour only when asked (a terminal).
#pragma once

#include <string>
#include <vector>

namespace orchd::console {

enum class colour { none, green, yellow, red, dim, bold };

/// `text` wrapped in the colour's escape codes (nothing for none).
std::string paint(const std::string& text, colour c);

/// Columns padded to their widest cell (counted in code points); a cell
/// may carry a colour, applied after padding so the columns stay aligned.
class table {
public:
  explicit table(std::vector<std::string> head);

  void add(std::vector<std::string> cells, std::vector<colour> colours = {});

  bool empty() const { return rows_.empty(); }

  /// The table, one line per row, each ending in a newline.
  std::string render(bool coloured) const;

private:
  std::vector<std::string> head_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::vector<colour>> colours_;
};

/// At most `n` code points of `text` (… when cut), on one line.
std::string clip(const std::string& text, size_t n);

} // namespace orchd::console
