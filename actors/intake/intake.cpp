#include "actors/intake/intake.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "actors/logic/signature.hpp"
#include "actors/logic/webhook_payload.hpp"

#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <string_view>

namespace orchd {

namespace {

// Plane sends a fresh delivery id on every retry: its events are keyed by
// what the retry shares with the original (work item, field, new value,
// updated_at), so the events table's unique delivery id de-duplicates both.
// Without `updated_at` those fields no longer tell two changes of a work
// item apart (every later change would be answered "duplicate" and
// dropped): the whole body, which a retry repeats byte for byte, joins
// the key.
std::string plane_delivery_key(const plane_event& ev, std::string_view body) {
  auto key = ev.dedup_key();
  if (ev.updated_at.empty())
    key += '\x1f' + hmac_sha256_hex("orchd plane body", body);
  return "plane:" + hmac_sha256_hex("orchd plane dedup", key);
}

bool is_event_name(std::string_view x) {
  return !x.empty() && x.size() <= 64 &&
         std::all_of(x.begin(), x.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

bool is_delivery_id(std::string_view x) {
  return !x.empty() && x.size() <= 128 &&
         std::all_of(x.begin(), x.end(),
                     [](char c) { return c > 0x20 && c < 0x7f; });
}

// GitHub's second key: its delivery id is not signed, so a replay of a
// signed body under a new id must still be a duplicate.
std::string github_body_key(std::string_view event, std::string_view body) {
  return "github:" +
         hmac_sha256_hex("orchd github body",
                         std::string{event} + '\x1f' + std::string{body});
}

} // namespace

intake_decision check_delivery(const webhook_delivery& d,
                               const intake_settings& s) {
  intake_decision out;
  auto refuse = [&](ec code, std::string text) {
    out.refusal = caf::make_error(code, std::move(text));
    return out;
  };
  bool plane = d.source == "plane";
  auto& secret = plane ? s.plane_secret : s.github_secret;
  auto unsigned_ok = plane ? s.allow_unsigned_plane : s.allow_unsigned_github;
  if (secret.empty()) {
    if (!unsigned_ok)
      return refuse(ec::bad_signature,
                    "no " + d.source +
                        " webhook secret is configured; refusing "
                        "every delivery");
  } else {
    auto valid = plane ? plane_signature_valid(secret, d.body, d.signature)
                       : github_signature_valid(secret, d.body, d.signature);
    if (!valid)
      return refuse(ec::bad_signature, d.signature.empty()
                                           ? "missing signature"
                                           : "signature does not match");
  }
  out.record.source = d.source;
  out.record.payload = d.body;
  if (plane) {
    auto ev = parse_plane_event(d.body, s.max_json_depth);
    if (!ev)
      return refuse(ec::malformed_payload, describe(ev.error()));
    out.record.event_type = ev->event;
    out.record.delivery_id = plane_delivery_key(*ev, d.body);
    if (ev->event != "issue") {
      out.acted_on = false;
      out.ignored_because = "Plane " + ev->event + " events are not acted on";
    } else if (!s.plane_bot_user_id.empty() &&
               ev->actor_id == s.plane_bot_user_id) {
      out.acted_on = false;
      out.ignored_because = "caused by orchd's own Plane user";
    }
  } else {
    if (d.event_type.empty())
      return refuse(ec::malformed_payload, "missing X-GitHub-Event header");
    // Headers are not covered by the signature: anyone who saw one signed
    // delivery can replay it with any header, so each value keeps to its
    // grammar before it is stored, logged or shown.
    if (!is_event_name(d.event_type))
      return refuse(ec::malformed_payload,
                    "X-GitHub-Event must be lower-case letters and '_'");
    if (d.delivery_id.empty())
      return refuse(ec::malformed_payload, "missing X-GitHub-Delivery header");
    if (!is_delivery_id(d.delivery_id))
      return refuse(ec::malformed_payload,
                    "X-GitHub-Delivery must be printable ASCII, at most 128 "
                    "characters");
    auto ev = parse_github_event(d.event_type, d.body, s.max_json_depth);
    if (!ev)
      return refuse(ec::malformed_payload, describe(ev.error()));
    out.record.event_type = d.event_type;
    out.record.delivery_id = d.delivery_id;
    out.record.body_key = github_body_key(d.event_type, d.body);
    if (!is_ci_event_kind(d.event_type)) {
      out.acted_on = false;
      out.ignored_because =
          "GitHub " + d.event_type + " events are not acted on";
    } else if (!ev->branches.empty()) {
      // Mapped to its task by the write that records it (see ci_events
      // for a result that names no branch).
      out.ci = {ev->repo, ev->branches, ev->result};
    }
  }
  out.record.processed = !out.acted_on;
  return out;
}

namespace {

// Hands a recorded event to the actor that acts on it.
void route(intake_pointer self, stored_event& ev) {
  auto& st = self->state;
  if (ev.record.source == "plane" && st.task_creator)
    self->send(st.task_creator, atom::handle_v, ev.id,
               std::move(ev.record.payload));
  else if (ev.record.source == "github" && st.ci_events)
    self->send(st.ci_events, atom::handle_v, ev.id, ev.record.event_type,
               std::move(ev.record.payload));
}

// Routes again what is recorded and still unhandled after `older_than_s`:
// every handler is idempotent (a task per work item, a CI outcome per
// event), so an event routed twice is acted on once.
void sweep(intake_pointer self, int64_t older_than_s) {
  auto& st = self->state;
  for (std::string source : {"plane", "github"})
    self->request(st.storage, st.settings.storage_timeout, atom::unhandled_v,
                  source, older_than_s)
        .then(
            [self, source, older_than_s](std::vector<stored_event>& events) {
              if (events.empty())
                return;
              log::info("orchd.intake: routing ", events.size(), " unhandled ",
                        source, " events",
                        older_than_s > 0 ? " older than the sweep's grace"
                                         : " left by a previous daemon");
              self->state.swept += static_cast<int64_t>(events.size());
              for (auto& ev : events)
                route(self, ev);
            },
            [source](const caf::error& err) {
              log::warn(
                  "orchd.intake: cannot read unhandled ", source,
                  " events (the next sweep tries again): ", describe(err));
            });
}

// Counts a delivery's answer: the inspector's tally and /metrics.
void tally(intake_state& st, const std::string& source, const char* answer,
           const std::string& reason = {}) {
  ++st.deliveries[source + " " + answer];
  metrics::add("orchd_webhooks_total",
               {{"source", source}, {"answer", answer}, {"reason", reason}});
}

std::string status_summary(const intake_state& st) {
  return nlohmann::json{{"accepted", st.accepted},
                        {"duplicates", st.duplicates},
                        {"refused", st.refused},
                        {"swept", st.swept},
                        {"deliveries", st.deliveries}}
      .dump();
}

} // namespace

intake_actor::behavior_type intake(intake_pointer self, storage_actor storage,
                                   task_creator_actor task_creator,
                                   ci_events_actor ci_events,
                                   intake_settings settings) {
  self->state.storage = std::move(storage);
  self->state.task_creator = std::move(task_creator);
  self->state.ci_events = std::move(ci_events);
  self->state.settings = std::move(settings);
  self->delayed_send(self, self->state.settings.sweep_interval, atom::tick_v);
  return counted(
      self->state.vitals,
      intake_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "intake",
                             status_summary(self->state));
          },
          [self](atom::sweep, int64_t older_than_s) {
            sweep(self, older_than_s);
          },
          [self](atom::tick) {
            sweep(self, self->state.settings.sweep_grace_s);
            self->delayed_send(self, self->state.settings.sweep_interval,
                               atom::tick_v);
          },
          [self](atom::webhook, webhook_delivery& d,
                 reply_to<webhook_receipt>& reply) {
            auto& st = self->state;
            auto decision = check_delivery(d, st.settings);
            if (decision.refusal) {
              ++st.refused;
              tally(st, d.source, "rejected",
                    decision.refusal == ec::bad_signature ? "bad_signature"
                    : decision.refusal == ec::malformed_payload ? "malformed"
                                                                : "other");
              log::event(log::level::info, "rejected", "orchd.intake: refused ",
                         d.source, " delivery ", d.delivery_id, ": ",
                         describe(decision.refusal));
              reply.deliver(std::move(decision.refusal));
              return;
            }
            // A new event that is acted on goes on once it is durable: Plane
            // work items to the task creator, GitHub CI results that name no
            // branch to ci_events (its payload is kept: the record moves into
            // the request); the others were mapped by the write itself.
            bool mapped = !decision.ci.branches.empty();
            bool decisive = decides(decision.ci.result);
            std::string routed;
            if (decision.acted_on && (!mapped || decisive))
              routed = decision.record.payload;
            auto ci_result = decision.ci.result;
            auto source = d.source;
            auto kind = d.event_type;
            auto acted_on = decision.acted_on;
            auto ignored_because = std::move(decision.ignored_because);
            self->request(st.storage, st.settings.storage_timeout,
                          atom::record_v, std::move(decision.record),
                          std::move(decision.ci))
                .then(
                    [self, reply, acted_on, ignored_because, source, kind,
                     mapped, ci_result,
                     routed = std::move(routed)](const event_ack& ack) {
                      auto& st = self->state;
                      if (!ack.created) {
                        ++st.duplicates;
                        tally(st, source, "duplicate");
                        reply.deliver(webhook_receipt{0, true, {}});
                        return;
                      }
                      ++st.accepted;
                      tally(st, source, acted_on ? "new" : "ignored");
                      if (!acted_on) {
                        reply.deliver(
                            webhook_receipt{ack.id, false, ignored_because});
                        return;
                      }
                      if (mapped)
                        log::info(
                            "orchd.intake: CI event ", ack.id, " -> task ",
                            ack.task_id ? std::to_string(*ack.task_id)
                                        : std::string{"none"},
                            " (", ci_result.empty() ? "no result" : ci_result,
                            ")");
                      // A GitHub result goes to ci_events unless the write
                      // mapped it; one that decides something for its task
                      // too (the write left it unhandled for the pipeline).
                      bool to_ci =
                          source == "github" &&
                          (!mapped || (ack.task_id && !routed.empty()));
                      if (source == "plane" && st.task_creator)
                        self->send(st.task_creator, atom::handle_v, ack.id,
                                   routed);
                      else if (to_ci && st.ci_events)
                        self->send(st.ci_events, atom::handle_v, ack.id, kind,
                                   routed);
                      reply.deliver(webhook_receipt{ack.id, false, {}});
                    },
                    [self, reply, source](const caf::error& err) {
                      tally(self->state, source, "error", "storage");
                      log::error("orchd.intake: recording failed: ",
                                 describe(err));
                      reply.deliver(err);
                    });
          },
          [self](atom::health, reply_to<health_report>& reply) {
            self->request(self->state.storage,
                          self->state.settings.storage_timeout,
                          atom::n_running_v)
                .then(
                    [reply](int64_t running) {
                      reply.deliver(health_report{running});
                    },
                    [reply](const caf::error& err) { reply.deliver(err); });
          },
      });
}

intake_actor spawn_intake(caf::actor_system& sys, storage_actor storage,
                          task_creator_actor task_creator,
                          ci_events_actor ci_events, intake_settings settings) {
  return sys.spawn(intake, std::move(storage), std::move(task_creator),
                   std::move(ci_events), std::move(settings));
}

} // namespace orchd
