// The tracker's queue of card updates: coalescing and Telegram's rate
// limits, on a clock the caller passes in (the actor's; a test's). Pure.
//
// A change marks its task; the task comes due after the coalescing window,
// so many changes within it become one call that renders the latest state.
// Each chat has its own slot (one call per `per_chat`, pushed back by a
// 429's retry_after), and all chats share `per_second` calls a second.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

namespace orchd {

class card_queue {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  struct limits {
    std::chrono::milliseconds coalesce{500};
    std::chrono::milliseconds per_chat{1000};
    size_t per_second = 30;
  };

  /// A task whose card is to be brought up to date.
  struct entry {
    int64_t task_id = 0;
    std::string chat;
    /// A new card at the bottom of the chat (sticks until one is sent).
    bool bump = false;
    /// The card's content may be stale (false: only extra cards to delete).
    bool edit = false;
    /// When it may go, and when its first unsent change came.
    time_point due;
    time_point since;
  };

  explicit card_queue(limits lim)
      : lim_(lim) {}

  /// A change of the task: due after the coalescing window, unless it is
  /// already queued (then only `bump` and `edit` are added). Without
  /// `edit` (and `bump`) only the task's extra cards are to be deleted.
  void mark(int64_t task_id, const std::string& chat, bool bump, time_point now,
            bool edit = true);

  /// Puts an entry back (more to do, or a call to try again) due at `due`,
  /// merged with a change that came meanwhile.
  void put_back(entry e, time_point due);

  /// The next entry whose chat may be called now, taken off the queue:
  /// the earliest due, ties by task id.
  std::optional<entry> take(time_point now);

  /// When `take` may next give an entry (none: the queue is empty).
  std::optional<time_point> next_due(time_point now) const;

  /// A call went to the chat: its slot and the shared rate.
  void called(const std::string& chat, time_point now);

  /// No call to the chat before `until` (a 429, an outage's backoff).
  void hold(const std::string& chat, time_point until);

  size_t size() const { return entries_.size(); }

private:
  time_point chat_free(const std::string& chat) const;
  time_point total_free(time_point now) const;

  limits lim_;
  std::map<int64_t, entry> entries_;
  std::map<std::string, time_point> chat_slots_;
  /// The times of the calls of the last second, oldest first.
  std::deque<time_point> recent_;
};

} // namespace orchd
