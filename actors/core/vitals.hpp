// What every long-lived actor tells the inspector about itself: messages
// handled (counted by wrapping its behavior), its mailbox, its last
// warning or error line, and a summary of its own state.
#pragma once

#include "actors/core/actors.hpp"
#include "actors/core/log.hpp"

#include <caf/detail/behavior_impl.hpp>
#include <caf/make_counted.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_behavior.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <utility>

namespace orchd {

/// An actor's message counter, shared by its behavior and its status.
struct actor_vitals {
  std::shared_ptr<std::atomic<int64_t>> handled =
      std::make_shared<std::atomic<int64_t>>(0);
};

namespace detail {

// Forwards every message to the actor's own behavior and counts the ones
// it matched. CAF 0.17's behavior_impl is a detail API; CAF is pinned to
// Debian 12's 0.17.6, and tests/actors/inspector_test.cpp checks the count.
class counting_behavior final : public caf::detail::behavior_impl {
public:
  counting_behavior(caf::intrusive_ptr<caf::detail::behavior_impl> inner,
                    std::shared_ptr<std::atomic<int64_t>> handled)
      : behavior_impl(inner->timeout())
      , inner_(std::move(inner))
      , handled_(std::move(handled)) {
    begin_ = nullptr;
    end_ = nullptr;
  }

  caf::match_case::result invoke(caf::detail::invoke_result_visitor& f,
                                 caf::type_erased_tuple& xs) override {
    auto result = inner_->invoke(f, xs);
    if (result != caf::match_case::no_match)
      handled_->fetch_add(1, std::memory_order_relaxed);
    return result;
  }

  caf::match_case::result
  invoke_empty(caf::detail::invoke_result_visitor& f) override {
    return inner_->invoke_empty(f);
  }

  void handle_timeout() override { inner_->handle_timeout(); }

private:
  caf::intrusive_ptr<caf::detail::behavior_impl> inner_;
  std::shared_ptr<std::atomic<int64_t>> handled_;
};

} // namespace detail

/// The actor's behavior, counting the messages it handles into `v`.
template <class... Sigs>
caf::typed_behavior<Sigs...> counted(const actor_vitals& v,
                                     caf::typed_behavior<Sigs...> b) {
  auto& inner = b.unbox();
  caf::intrusive_ptr<caf::detail::behavior_impl> wrapped{
      caf::make_counted<detail::counting_behavior>(inner.as_behavior_impl(),
                                                   v.handled)};
  inner.assign(std::move(wrapped));
  return b;
}

/// The status an actor answers the inspector with; `state` is its summary
/// (a JSON object's text). Call it from the actor's own handler.
inline actor_status status_of(caf::scheduled_actor* self, const actor_vitals& v,
                              const std::string& name, std::string state) {
  actor_status x;
  x.name = name;
  x.mailbox = static_cast<int64_t>(self->mailbox().size());
  x.handled = v.handled->load(std::memory_order_relaxed);
  auto p = log::last_problem(name);
  x.last_error_at = p.at;
  x.last_error = std::move(p.text);
  x.state = std::move(state);
  return x;
}

/// Registers `handle` under `name` (no-op when the inspector is null).
template <class Handle>
void enroll(const inspector_actor& inspector, std::string name,
            const Handle& handle) {
  if (inspector)
    caf::anon_send(inspector, atom::enroll_v, std::move(name),
                   caf::actor_cast<caf::actor>(handle));
}

} // namespace orchd
