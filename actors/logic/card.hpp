// A task's Telegram card: one message, rendered from what storage knows of
// the task (card_facts), in Telegram's HTML parse mode. Pure: the tracker
// renders at send time, so a card always shows the latest state.
#pragma once

#include "actors/core/records.hpp"

#include <caf/optional.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace orchd::card {

struct options {
  /// The work item's page ("" : the id is not linked).
  std::string work_item_url;
  /// Telegram's limit for a message's text. Counted in bytes of the HTML,
  /// which is never less than what Telegram counts (UTF-16 units of the
  /// text without its tags).
  size_t max_bytes = 4096;
};

/// The card at `now` (Unix seconds): the work item, every stage with its
/// mark (✓ done, ▶ running, ⏸ waiting, ✗ failed, · not reached), each
/// finished stage's time, model, effort, tokens and cost, the totals, the
/// human's review time apart from the agents' time, and what the task
/// waits for. Always at most `max_bytes`; long texts are shortened at a
/// character boundary before escaping, so no entity or tag is ever cut.
std::string render(const card_facts& facts, int64_t now, const options& opts);

/// The work item's page: `url_template` with {workspace}, {project} and
/// {id} replaced ("" when a part is missing).
std::string work_item_url(std::string_view url_template,
                          std::string_view workspace, std::string_view project,
                          std::string_view plane_id);

/// Unix seconds of a SQLite UTC stamp ("YYYY-MM-DD HH:MM:SS", or with a T
/// and fractions), none for anything else.
caf::optional<int64_t> seconds_of(std::string_view stamp);

/// The SQLite UTC stamp of unix seconds ("YYYY-MM-DD HH:MM:SS").
std::string stamp_of(int64_t seconds);

/// At most `max_chars` characters (code points) of UTF-8 `text`, with "…"
/// when shortened.
std::string shorten(std::string_view text, size_t max_chars);

/// 45s, 3m 10s, 2h 05m, 3d 4h.
std::string duration(int64_t seconds);

/// 950, 12.3k, 4.5M.
std::string count(int64_t n);

} // namespace orchd::card
