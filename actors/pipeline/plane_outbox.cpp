#include "actors/pipeline/plane_outbox.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>

namespace orchd {

plane_outbox_settings plane_outbox_settings_of(const config& cfg) {
  plane_outbox_settings x;
  x.endpoint = plane::endpoint_of(cfg);
  x.projects = cfg.projects;
  x.states = cfg.plane.states;
  x.requests_per_minute = cfg.plane.requests_per_minute;
  x.retry_base_s = cfg.plane.retry_base_s;
  x.retry_cap_s = cfg.plane.retry_cap_s;
  return x;
}

namespace {

using outbox_pointer = plane_outbox_pointer;

void pump(outbox_pointer self);

std::string lower(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return x;
}

// Sends one request at the key's rate (the caller waits for its slot).
outbound_response rated(outbox_pointer self, const outbound_request& r) {
  auto& st = self->state;
  st.next_slot =
      self->clock().now() +
      std::chrono::milliseconds(60'000 / st.settings.requests_per_minute);
  return st.send(r);
}

// The state's id in the project: cached, fetched on a miss.
caf::expected<std::string> state_id(outbox_pointer self,
                                    const std::string& project,
                                    const std::string& name) {
  auto& st = self->state;
  auto& ids = st.state_ids[project];
  auto hit = ids.find(lower(name));
  if (hit != ids.end())
    return hit->second;
  auto res = rated(self, plane::list_states(st.settings.endpoint, project));
  if (res.status != 200)
    return caf::make_error(ec::io_failed,
                           "cannot list the project's states: " +
                               (res.status == 0
                                    ? res.error
                                    : "HTTP " + std::to_string(res.status)));
  auto parsed = plane::parse_states(res.body);
  if (!parsed)
    return parsed.error();
  ids = std::move(*parsed);
  hit = ids.find(lower(name));
  if (hit == ids.end())
    return caf::make_error(ec::invalid_argument,
                           "the project has no state named '" + name + "'");
  return hit->second;
}

plane_call_result deliver(outbox_pointer self, const plane_call& call) {
  auto& st = self->state;
  plane_call_result out;
  out.id = call.id;
  auto* project = project_of_repo(st.settings.projects, call.repo);
  if (!project || call.plane_id.empty()) {
    out.outcome = plane_call_result::given_up;
    out.error = "no Plane project or work item for " + call.repo;
    return out;
  }
  auto& pid = project->plane_project_id;
  outbound_response res;
  if (call.kind == "state") {
    auto& s = st.settings.states;
    auto name = call.body == "review"     ? s.review
                : call.body == "done"     ? s.done
                : call.body == "approved" ? s.approved
                : call.body == "rework"   ? s.rework
                                          : call.body;
    auto id = state_id(self, pid, name);
    if (!id) {
      // The name is unknown (given up: plane.states names it wrong), or
      // the list failed (retry).
      out.outcome = id.error() == ec::io_failed ? plane_call_result::retry
                                                : plane_call_result::given_up;
      out.error = describe(id.error());
      out.retry_in_s = plane::backoff_s(call.attempts, st.settings.retry_base_s,
                                        st.settings.retry_cap_s);
      return out;
    }
    res = rated(
        self, plane::set_state(st.settings.endpoint, pid, call.plane_id, *id));
  } else {
    res =
        rated(self, plane::add_comment(st.settings.endpoint, pid, call.plane_id,
                                       call.body, call.external_id));
  }
  auto v = plane::classify(res, call.attempts, st.settings.retry_base_s,
                           st.settings.retry_cap_s, std::time(nullptr));
  if (v.kind == plane::verdict::refused && call.kind == "state" &&
      res.status == 400)
    st.state_ids.erase(pid); // a stale state id: fetched again next time
  out.outcome = v.kind == plane::verdict::ok      ? plane_call_result::sent
                : v.kind == plane::verdict::retry ? plane_call_result::retry
                                                  : plane_call_result::given_up;
  out.error = v.error;
  out.retry_in_s = v.retry_in_s;
  return out;
}

void log_result(const plane_call& call, const plane_call_result& r) {
  switch (r.outcome) {
  case plane_call_result::sent:
    log::info("orchd.plane_outbox: task ", call.task_id, ": ", call.kind,
              " call ", call.external_id, " sent");
    break;
  case plane_call_result::retry:
    log::warn("orchd.plane_outbox: task ", call.task_id, ": ", call.kind,
              " call ", call.external_id, " failed (", r.error,
              "); tried again in ", r.retry_in_s, " s");
    break;
  case plane_call_result::given_up:
    log::error("orchd.plane_outbox: task ", call.task_id, ": ", call.kind,
               " call ", call.external_id, " refused for good: ", r.error);
    break;
  }
}

// One timer for the earliest held-back call.
void arm_timer(outbox_pointer self) {
  auto& st = self->state;
  auto generation = ++st.due_generation;
  self->request(st.storage, st.settings.storage_timeout, atom::outbox_v)
      .then(
          [self, generation](const caf::optional<int64_t>& ms) {
            if (ms && generation == self->state.due_generation)
              self->delayed_send(self, std::chrono::milliseconds(*ms + 5),
                                 atom::due_v, generation);
          },
          [](const caf::error& err) {
            log::warn("orchd.plane_outbox: cannot read the next due call: ",
                      describe(err));
          });
}

void settle(outbox_pointer self, const plane_call& call,
            plane_call_result result) {
  auto& st = self->state;
  log_result(call, result);
  switch (result.outcome) {
  case plane_call_result::sent:
    ++st.sent;
    break;
  case plane_call_result::retry:
    ++st.retried;
    break;
  case plane_call_result::given_up:
    ++st.given_up;
    break;
  }
  self->request(st.storage, st.settings.storage_timeout, atom::sent_v, result)
      .then(
          [self](bool) {
            self->state.busy = false;
            pump(self);
          },
          [self](const caf::error& err) {
            log::error("orchd.plane_outbox: cannot record a call: ",
                       describe(err));
            self->state.busy = false;
            self->delayed_send(self, std::chrono::seconds(5), atom::wake_v);
          });
}

void pump(outbox_pointer self) {
  auto& st = self->state;
  if (st.busy) {
    st.again = true;
    return;
  }
  auto& e = st.settings.endpoint;
  if (e.workspace_slug.empty() || e.api_key.empty()) {
    if (!st.warned)
      log::warn("orchd.plane_outbox: plane.workspace_slug or the Plane API "
                "key is not set; Plane calls stay queued in the database");
    st.warned = true;
    return;
  }
  // The actor's clock: the test coordinator's under test.
  auto now = self->clock().now();
  if (now < st.next_slot) {
    self->delayed_send(self, st.next_slot - now, atom::wake_v);
    return;
  }
  st.busy = true;
  st.again = false;
  self->request(st.storage, st.settings.storage_timeout, atom::outbox_v,
                int64_t{1})
      .then(
          [self](std::vector<plane_call>& calls) {
            auto& st = self->state;
            if (calls.empty()) {
              st.busy = false;
              if (st.again)
                return pump(self);
              return arm_timer(self);
            }
            auto result = deliver(self, calls.front());
            settle(self, calls.front(), std::move(result));
          },
          [self](const caf::error& err) {
            log::error("orchd.plane_outbox: cannot read the outbox: ",
                       describe(err));
            self->state.busy = false;
            self->delayed_send(self, std::chrono::seconds(5), atom::wake_v);
          });
}

std::string status_summary(const plane_outbox_state& st) {
  return nlohmann::json{{"sent", st.sent},
                        {"retried", st.retried},
                        {"given_up", st.given_up},
                        {"busy", st.busy}}
      .dump();
}

} // namespace

plane_outbox_actor::behavior_type plane_outbox(plane_outbox_pointer self,
                                               storage_actor storage,
                                               plane_outbox_settings settings,
                                               outbound_send send) {
  auto& st = self->state;
  st.storage = std::move(storage);
  st.settings = std::move(settings);
  st.send = std::move(send);
  pump(self);
  return counted(self->state.vitals,
                 plane_outbox_actor::behavior_type{
                     [self](atom::status) {
                       return status_of(self, self->state.vitals,
                                        "plane_outbox",
                                        status_summary(self->state));
                     },
                     [self](atom::wake) { pump(self); },
                     [self](atom::due, int64_t generation) {
                       if (generation == self->state.due_generation)
                         pump(self);
                     },
                 });
}

plane_outbox_actor spawn_plane_outbox(caf::actor_system& sys,
                                      storage_actor storage,
                                      plane_outbox_settings settings,
                                      outbound_send send) {
  return sys.spawn<caf::detached>(plane_outbox, std::move(storage),
                                  std::move(settings), std::move(send));
}

} // namespace orchd
