#include "actors/logic/card_queue.hpp"

#include <algorithm>

namespace orchd {

void card_queue::mark(int64_t task_id, const std::string& chat, bool bump,
                      time_point now, bool edit) {
  auto [it, added] = entries_.try_emplace(task_id);
  auto& e = it->second;
  if (added) {
    e.task_id = task_id;
    e.due = now + lim_.coalesce;
    e.since = now;
  }
  e.chat = chat;
  e.bump = e.bump || bump;
  e.edit = e.edit || edit;
}

void card_queue::put_back(entry e, time_point due) {
  auto [it, added] = entries_.try_emplace(e.task_id, e);
  auto& q = it->second;
  if (!added) {
    // A change came while the entry was out: keep both wishes, the
    // earliest change, and the later of the two due times.
    q.bump = q.bump || e.bump;
    q.edit = q.edit || e.edit;
    q.since = std::min(q.since, e.since);
  }
  q.due = std::max(added ? due : q.due, due);
}

card_queue::time_point card_queue::chat_free(const std::string& chat) const {
  auto it = chat_slots_.find(chat);
  return it == chat_slots_.end() ? time_point{} : it->second;
}

card_queue::time_point card_queue::total_free(time_point now) const {
  if (recent_.size() < lim_.per_second)
    return now;
  // The oldest of the last `per_second` calls leaves the window.
  return recent_[recent_.size() - lim_.per_second] + std::chrono::seconds(1);
}

std::optional<card_queue::entry> card_queue::take(time_point now) {
  if (total_free(now) > now)
    return std::nullopt;
  auto best = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    auto& e = it->second;
    if (e.due > now || chat_free(e.chat) > now)
      continue;
    if (best == entries_.end() || e.due < best->second.due)
      best = it;
  }
  if (best == entries_.end())
    return std::nullopt;
  auto e = std::move(best->second);
  entries_.erase(best);
  return e;
}

std::optional<card_queue::time_point>
card_queue::next_due(time_point now) const {
  std::optional<time_point> next;
  for (auto& [id, e] : entries_) {
    auto at = std::max(e.due, chat_free(e.chat));
    if (!next || at < *next)
      next = at;
  }
  if (next)
    next = std::max({*next, total_free(now), now});
  return next;
}

void card_queue::called(const std::string& chat, time_point now) {
  auto& slot = chat_slots_[chat];
  slot = std::max(slot, now + lim_.per_chat);
  recent_.push_back(now);
  while (!recent_.empty() && recent_.front() + std::chrono::seconds(1) <= now)
    recent_.pop_front();
}

void card_queue::hold(const std::string& chat, time_point until) {
  auto& slot = chat_slots_[chat];
  slot = std::max(slot, until);
}

} // namespace orchd
