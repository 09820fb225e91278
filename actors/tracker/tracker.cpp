#include "actors/tracker/tracker.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/logic/card.hpp"
#include "actors/os/crash_point.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <functional>
#include <vector>

namespace orchd {

tracker_settings tracker_settings_of(const config& cfg) {
  tracker_settings x;
  x.endpoint.base_url = cfg.telegram.base_url;
  x.endpoint.token = cfg.secrets.telegram_token;
  for (auto& p : cfg.projects) {
    if (!p.telegram_chat_id.empty())
      x.chats[p.repo] = p.telegram_chat_id;
    x.plane_projects[p.repo] = p.plane_project_id;
  }
  x.work_item_url = cfg.telegram.work_item_url;
  x.workspace_slug = cfg.plane.workspace_slug;
  x.limits.coalesce = std::chrono::milliseconds(cfg.telegram.coalesce_ms);
  x.limits.per_chat = std::chrono::milliseconds(cfg.telegram.chat_interval_ms);
  x.limits.per_second = static_cast<size_t>(cfg.telegram.per_second);
  x.sweep = std::chrono::seconds(cfg.telegram.sweep_s);
  x.retry_cap_s = cfg.telegram.retry_cap_s;
  return x;
}

std::string tracker_disabled_because(const tracker_settings& s) {
  if (s.endpoint.token.empty())
    return "no Telegram bot token is set (secrets.telegram_token_env)";
  if (s.chats.empty())
    return "no project has a telegram_chat_id";
  return {};
}

namespace {

using clock_type = card_queue::clock;
using entry = card_queue::entry;

void pump(tracker_pointer self);

double ms_since(clock_type::time_point then, clock_type::time_point now) {
  return std::chrono::duration<double, std::milli>(now - then).count();
}

// The call is over: the next one.
void next(tracker_pointer self) {
  self->state.busy = false;
  pump(self);
}

// One Bot API call to the chat, counted against its rate.
telegram::answer call(tracker_pointer self, const entry& e,
                      const outbound_request& req, const char* what) {
  auto& st = self->state;
  auto now = self->clock().now();
  st.queue.called(e.chat, now);
  log::debug("orchd.tracker: task ", e.task_id, ": ", what, " sent ",
             ms_since(e.since, now), " ms after the change");
  auto a = telegram::classify(st.send(req));
  a.description =
      telegram::redact(std::move(a.description), st.settings.endpoint.token);
  if (a.kind != telegram::answer::retry)
    st.failures.erase(e.chat);
  return a;
}

// A call to try again: the chat waits out Telegram's retry_after, or a
// backoff that doubles while the outage lasts.
void hold_chat(tracker_pointer self, const entry& e, const telegram::answer& a,
               const char* what) {
  auto& st = self->state;
  auto n = ++st.failures[e.chat];
  auto wait = a.retry_after_s > 0
                  ? std::chrono::seconds(a.retry_after_s)
                  : std::chrono::seconds(std::min<int64_t>(
                        int64_t{1} << std::min<int64_t>(n - 1, 20),
                        st.settings.retry_cap_s));
  st.queue.hold(e.chat, self->clock().now() + wait);
  ++st.failed;
  log::warn("orchd.tracker: task ", e.task_id, ": ", what, " failed (",
            a.description, "); chat ", e.chat, " waits ", wait.count(), " s");
}

void refused(tracker_pointer self, const entry& e, const telegram::answer& a,
             const char* what) {
  ++self->state.failed;
  log::error("orchd.tracker: task ", e.task_id, ": ", what,
             " refused: ", a.error_code, " ", a.description);
}

// The task's current card.
const caf::optional<int64_t>& current_of(const card_facts& f) {
  return f.detail.task.tracker_message_id;
}

// The ledger's cards of the task other than its current one, oldest first.
std::vector<int64_t> extras_of(const card_facts& f) {
  std::vector<int64_t> out;
  for (auto id : f.open)
    if (id != current_of(f))
      out.push_back(id);
  return out;
}

// More to do for the entry (extra cards to delete): at the chat's next
// slot, with nothing to edit.
void cleanup_later(tracker_pointer self, entry e) {
  e.bump = false;
  e.edit = false;
  self->state.queue.put_back(std::move(e), self->clock().now());
}

std::string render(tracker_pointer self, const card_facts& f) {
  auto& s = self->state.settings;
  auto& task = f.detail.task;
  card::options opts;
  auto project = s.plane_projects.find(task.repo);
  opts.work_item_url = card::work_item_url(
      s.work_item_url, s.workspace_slug,
      project == s.plane_projects.end() ? "" : project->second, task.plane_id);
  return card::render(f, static_cast<int64_t>(std::time(nullptr)), opts);
}

// A new card: sent, recorded before anything else is done with it, then
// the task's older cards are deleted (the entry comes back for them).
void send_card(tracker_pointer self, entry e, const card_facts& f) {
  auto& st = self->state;
  auto a = call(
      self, e,
      telegram::send_message(st.settings.endpoint, e.chat, render(self, f)),
      "card");
  if (a.kind == telegram::answer::retry) {
    hold_chat(self, e, a, "sending its card");
    st.queue.put_back(std::move(e), self->clock().now());
    return next(self);
  }
  if (a.kind != telegram::answer::ok || a.message_id <= 0) {
    refused(self, e, a, "sending its card");
    return next(self);
  }
  crash_point(crash_at::card_sent);
  ++st.sent;
  auto message = a.message_id;
  auto more = !f.open.empty();
  self->request(st.storage, st.settings.storage_timeout, atom::card_v,
                e.task_id, message)
      .then(
          [self, e, message, more](bool) {
            crash_point(crash_at::card_recorded);
            log::info("orchd.tracker: task ", e.task_id, ": card ", message,
                      " sent");
            if (more)
              cleanup_later(self, e);
            next(self);
          },
          [self, e, message](const caf::error& err) {
            // Not in the ledger: nobody would ever delete it. Deleted now
            // (best effort), and the card is sent again.
            auto& st = self->state;
            log::error("orchd.tracker: task ", e.task_id, ": card ", message,
                       " sent but not recorded (", describe(err),
                       "); deleting it");
            call(
                self, e,
                telegram::delete_message(st.settings.endpoint, e.chat, message),
                "delete of an unrecorded card");
            st.queue.put_back(e, self->clock().now() + std::chrono::seconds(5));
            next(self);
          });
}

void edit_card(tracker_pointer self, entry e, const card_facts& f) {
  auto& st = self->state;
  auto a = call(self, e,
                telegram::edit_message(st.settings.endpoint, e.chat,
                                       *current_of(f), render(self, f)),
                "edit");
  switch (a.kind) {
  case telegram::answer::ok:
  case telegram::answer::not_modified:
    ++st.edited;
    if (!extras_of(f).empty())
      cleanup_later(self, std::move(e));
    break;
  case telegram::answer::gone:
    // The card was deleted by hand (or is too old to edit): a new one.
    log::info("orchd.tracker: task ", e.task_id, ": card ", *current_of(f),
              " cannot be edited (", a.description, "); sending a new one");
    e.bump = true;
    st.queue.put_back(std::move(e), self->clock().now());
    break;
  case telegram::answer::retry:
    hold_chat(self, e, a, "editing its card");
    st.queue.put_back(std::move(e), self->clock().now());
    break;
  case telegram::answer::refused:
    refused(self, e, a, "editing its card");
    break;
  }
  next(self);
}

// Deletes the oldest extra card; a card confirmed gone leaves the ledger.
// A transient failure leaves it open for the next bump or sweep.
void delete_card(tracker_pointer self, entry e, std::vector<int64_t> extras) {
  auto& st = self->state;
  auto message = extras.front();
  auto a = call(self, e,
                telegram::delete_message(st.settings.endpoint, e.chat, message),
                "delete");
  if (a.kind == telegram::answer::retry) {
    hold_chat(self, e, a, "deleting an old card");
    return next(self);
  }
  if (a.kind == telegram::answer::refused) {
    refused(self, e, a, "deleting an old card");
    return next(self);
  }
  ++st.deleted;
  self->request(st.storage, st.settings.storage_timeout, atom::card_gone_v,
                e.task_id, message)
      .then(
          [self, e, more = extras.size() > 1](bool) {
            if (more)
              cleanup_later(self, e);
            next(self);
          },
          [self, e, message](const caf::error& err) {
            log::warn("orchd.tracker: task ", e.task_id, ": card ", message,
                      " deleted but still open in the ledger (", describe(err),
                      ")");
            next(self);
          });
}

// What the entry needs, in order: a new card, an edit, the extra cards
// deleted.
void act(tracker_pointer self, entry e, const card_facts& f) {
  auto extras = extras_of(f);
  if (e.bump || !current_of(f))
    return send_card(self, std::move(e), f);
  if (e.edit)
    return edit_card(self, std::move(e), f);
  if (!extras.empty())
    return delete_card(self, std::move(e), std::move(extras));
  next(self);
}

void arm_timer(tracker_pointer self, clock_type::time_point now) {
  auto& st = self->state;
  auto at = st.queue.next_due(now);
  if (!at)
    return;
  auto generation = ++st.due_generation;
  self->delayed_send(self, std::max(*at - now, clock_type::duration::zero()),
                     atom::due_v, generation);
}

void pump(tracker_pointer self) {
  auto& st = self->state;
  if (st.busy) {
    st.again = true;
    return;
  }
  auto now = self->clock().now();
  auto e = st.queue.take(now);
  if (!e)
    return arm_timer(self, now);
  st.busy = true;
  st.again = false;
  self->request(st.storage, st.settings.storage_timeout, atom::card_v,
                e->task_id)
      .then([self, e = *e](card_facts& f) { act(self, e, f); },
            [self, e = *e](const caf::error& err) {
              log::warn("orchd.tracker: task ", e.task_id,
                        ": cannot read its card: ", describe(err));
              if (err != ec::no_such_task)
                self->state.queue.put_back(e, self->clock().now() +
                                                  std::chrono::seconds(5));
              next(self);
            });
}

// A change of the task (or, without `edit`, only its extra cards to
// delete): queued in its chat (read once per task).
void mark(tracker_pointer self, int64_t task_id, bool bump, bool edit = true) {
  auto& st = self->state;
  auto known = st.chat_of_task.find(task_id);
  if (known != st.chat_of_task.end()) {
    if (!known->second.empty()) {
      st.queue.mark(task_id, known->second, bump, self->clock().now(), edit);
      pump(self);
    }
    return;
  }
  self->request(st.storage, st.settings.storage_timeout, atom::task_by_id_v,
                task_id)
      .then(
          [self, task_id, bump, edit](task_row& task) {
            auto& st = self->state;
            auto chat = st.settings.chats.find(task.repo);
            st.chat_of_task[task_id] =
                chat == st.settings.chats.end() ? "" : chat->second;
            mark(self, task_id, bump, edit);
          },
          [task_id](const caf::error& err) {
            log::warn("orchd.tracker: task ", task_id,
                      ": cannot read it: ", describe(err));
          });
}

void sweep(tracker_pointer self, bool everything,
           std::function<void(int64_t)> done) {
  auto& st = self->state;
  self->request(st.storage, st.settings.storage_timeout, atom::cards_v,
                everything)
      .then(
          [self, done](const std::vector<card_due>& due) {
            for (auto& d : due)
              mark(self, d.task_id, d.bump, d.edit);
            done(static_cast<int64_t>(due.size()));
          },
          [done](const caf::error& err) {
            log::warn("orchd.tracker: cannot read the cards to check: ",
                      describe(err));
            done(0);
          });
}

std::string status_summary(const tracker_state& st) {
  return nlohmann::json{{"enabled", st.enabled}, {"sent", st.sent},
                        {"edited", st.edited},   {"deleted", st.deleted},
                        {"failed", st.failed},   {"busy", st.busy}}
      .dump();
}

} // namespace

tracker_actor::behavior_type card_keeper(tracker_pointer self,
                                         storage_actor storage,
                                         tracker_settings settings,
                                         outbound_send send) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.queue = card_queue{settings.limits};
  st.settings = std::move(settings);
  st.send = std::move(send);
  auto why = tracker_disabled_because(st.settings);
  st.enabled = why.empty();
  if (!st.enabled) {
    log::info("orchd.tracker: running without the Telegram tracker: ", why);
  } else {
    sweep(self, true, [](int64_t n) {
      if (n > 0)
        log::info("orchd.tracker: bringing ", n, " cards up to date");
    });
    self->delayed_send(self, self->state.settings.sweep, atom::tick_v);
  }
  return counted(
      self->state.vitals,
      tracker_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "tracker",
                             status_summary(self->state));
          },
          [self](atom::card, int64_t task_id, bool bump) {
            if (self->state.enabled)
              mark(self, task_id, bump);
          },
          [self](atom::wake) { pump(self); },
          [self](atom::due, int64_t generation) {
            if (generation == self->state.due_generation)
              pump(self);
          },
          [self](atom::tick) {
            sweep(self, false, [](int64_t) {});
            self->delayed_send(self, self->state.settings.sweep, atom::tick_v);
          },
          [self](atom::sweep, bool everything) -> caf::result<int64_t> {
            if (!self->state.enabled)
              return int64_t{0};
            auto rp = self->make_response_promise<int64_t>();
            sweep(self, everything, [rp](int64_t n) mutable { rp.deliver(n); });
            return rp;
          },
      });
}

tracker_actor spawn_tracker(caf::actor_system& sys, storage_actor storage,
                            tracker_settings settings, outbound_send send) {
  return sys.spawn<caf::detached>(card_keeper, std::move(storage),
                                  std::move(settings), std::move(send));
}

} // namespace orchd
