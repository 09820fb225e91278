#include "actors/admin/admin_api.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace orchd {

namespace {

using api_pointer = admin_api_actor::stateful_pointer<admin_api_state>;

// The shape of most routes: ask `dest` and hand its answer, or its error,
// to the caller.
template <class T, class Dest, class... Ts>
void ask(api_pointer self, const Dest& dest, const reply_to<T>& reply,
         Ts&&... xs) {
  self->request(dest, self->state.timeout, std::forward<Ts>(xs)...)
      .then([reply](T& x) { reply.deliver(std::move(x)); },
            [reply](const caf::error& err) { reply.deliver(err); });
}

// After an operator action: the job's row as it is now.
void answer_job(api_pointer self, int64_t id, const reply_to<job_row>& reply) {
  ask(self, self->state.to.storage, reply, atom::job_by_id_v, id);
}

// The queue's held jobs, then the scheduler's held accounts.
template <class Fail>
void answer_holds(api_pointer self, queue_summary out,
                  const reply_to<queue_summary>& reply, Fail fail) {
  auto& st = self->state;
  self->request(st.to.storage, st.timeout, atom::holds_v)
      .then(
          [self, reply, fail, out](std::vector<job_row>& held) mutable {
            out.held = std::move(held);
            auto& st = self->state;
            self->request(st.to.scheduler, st.timeout, atom::holds_v)
                .then(
                    [reply, out](std::vector<account_hold>& accounts) mutable {
                      out.accounts = std::move(accounts);
                      reply.deliver(std::move(out));
                    },
                    fail);
          },
          fail);
}

// The job counts, then every running job, then the newest 20, then the
// holds.
void answer_queue(api_pointer self, const reply_to<queue_summary>& reply) {
  auto& st = self->state;
  auto fail = [reply](const caf::error& err) {
    reply.deliver(err);
  };
  self->request(st.to.storage, st.timeout, atom::job_counts_v)
      .then(
          [self, reply, fail](const job_counts& counts) {
            auto& st = self->state;
            self->request(st.to.storage, st.timeout, atom::running_v)
                .then(
                    [self, reply, fail,
                     counts](const std::vector<running_job>& running) {
                      queue_summary out;
                      out.counts = counts;
                      for (auto& r : running)
                        out.running.push_back(r.job);
                      auto& st = self->state;
                      self->request(st.to.storage, st.timeout, atom::recent_v,
                                    int64_t{20})
                          .then(
                              [self, reply, fail,
                               out](std::vector<job_row>& recent) mutable {
                                out.recent = std::move(recent);
                                answer_holds(self, std::move(out), reply, fail);
                              },
                              fail);
                    },
                    fail);
          },
          fail);
}

// The database's gauges, then every actor's mailbox (an inspector that
// cannot answer leaves those out), then the text.
void answer_metrics(api_pointer self, const reply_to<std::string>& reply) {
  auto& st = self->state;
  self->request(st.to.storage, st.timeout, atom::metrics_v)
      .then(
          [self, reply](std::vector<metric_sample>& samples) {
            auto& st = self->state;
            if (!st.to.inspector)
              return reply.deliver(metrics::render(samples));
            self->request(st.to.inspector, st.timeout, atom::status_v)
                .then(
                    [reply,
                     samples](const std::vector<actor_status>& all) mutable {
                      for (auto& a : all)
                        if (a.health == "ok")
                          samples.push_back(
                              {"orchd_mailbox_depth",
                               metrics::labels({{"actor", a.name}}),
                               static_cast<double>(a.mailbox)});
                      reply.deliver(metrics::render(samples));
                    },
                    [reply, samples](const caf::error&) {
                      reply.deliver(metrics::render(samples));
                    });
          },
          [reply](const caf::error& err) { reply.deliver(err); });
}

// At most this much of an agent's output per request.
constexpr int64_t output_slice = 1 << 20;

// The job's current run's output file, from `offset`.
void answer_output(api_pointer self, int64_t job_id, int64_t offset,
                   const reply_to<job_output>& reply) {
  auto& st = self->state;
  auto fail = [reply](const caf::error& err) {
    reply.deliver(err);
  };
  self->request(st.to.storage, st.timeout, atom::job_by_id_v, job_id)
      .then(
          [self, reply, fail, offset](const job_row& job) {
            if (!job.run_id)
              return reply.deliver(caf::make_error(
                  ec::no_such_run,
                  "job " + std::to_string(job.id) + " has not run yet"));
            bool finished = job.status != job_status::running;
            auto id = job.id;
            self->request(self->state.to.storage, self->state.timeout,
                          atom::output_v, *job.run_id)
                .then(
                    [reply, offset, finished, id](const std::string& path) {
                      job_output out;
                      out.job_id = id;
                      std::ifstream in{path, std::ios::binary};
                      if (!in)
                        return reply.deliver(caf::make_error(
                            ec::io_failed, "cannot read " + path +
                                               " (removed by retention?)"));
                      in.seekg(0, std::ios::end);
                      auto size = static_cast<int64_t>(in.tellg());
                      auto from = std::min(std::max<int64_t>(0, offset), size);
                      auto n = std::min(output_slice, size - from);
                      out.bytes.resize(static_cast<size_t>(n));
                      in.seekg(from);
                      in.read(out.bytes.data(), n);
                      out.bytes.resize(static_cast<size_t>(in.gcount()));
                      out.offset = from;
                      out.next_offset =
                          from + static_cast<int64_t>(out.bytes.size());
                      // More may follow a finished job's slice only when
                      // it was cut at the limit.
                      out.finished = finished && out.next_offset >= size;
                      reply.deliver(std::move(out));
                    },
                    fail);
          },
          fail);
}

std::string status_summary(const admin_api_state& st) {
  return nlohmann::json{{"timeout_ms", st.timeout.count()}}.dump();
}

} // namespace

admin_api_actor::behavior_type admin_api(api_pointer self, admin_backends to,
                                         std::chrono::milliseconds timeout) {
  self->state.to = std::move(to);
  self->state.timeout = timeout;
  return counted(
      self->state.vitals,
      admin_api_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "admin_api",
                             status_summary(self->state));
          },
          [self](atom::task_by_id, int64_t id, reply_to<task_row>& reply) {
            ask(self, self->state.to.storage, reply, atom::task_by_id_v, id);
          },
          [self](atom::detail, int64_t id, reply_to<task_detail>& reply) {
            ask(self, self->state.to.storage, reply, atom::detail_v, id);
          },
          [self](atom::open_tasks, reply_to<std::vector<active_task>>& reply) {
            ask(self, self->state.to.storage, reply, atom::open_tasks_v);
          },
          [self](atom::job_by_id, int64_t id, reply_to<job_row>& reply) {
            answer_job(self, id, reply);
          },
          [self](atom::queue, reply_to<queue_summary>& reply) {
            answer_queue(self, reply);
          },
          [self](atom::costs, const cost_query& q,
                 reply_to<cost_report>& reply) {
            ask(self, self->state.to.storage, reply, atom::costs_v, q);
          },
          [self](atom::budget, const budget_change& x,
                 reply_to<int64_t>& reply) {
            // Through the scheduler: the released jobs are claimed at once;
            // the card drops its pause.
            self->request(self->state.to.scheduler, self->state.timeout,
                          atom::budget_v, x)
                .then(
                    [self, x, reply](int64_t released) {
                      if (self->state.to.tracker)
                        self->send(self->state.to.tracker, atom::card_v,
                                   x.task_id, false);
                      reply.deliver(released);
                    },
                    [reply](const caf::error& err) { reply.deliver(err); });
          },
          [self](atom::cancel, int64_t id, reply_to<job_row>& reply) {
            self->request(self->state.to.scheduler, self->state.timeout,
                          atom::cancel_v, id)
                .then([self, id, reply](bool) { answer_job(self, id, reply); },
                      [reply](const caf::error& err) { reply.deliver(err); });
          },
          [self](atom::requeue, int64_t id, reply_to<job_row>& reply) {
            self->request(self->state.to.scheduler, self->state.timeout,
                          atom::requeue_v, id)
                .then([self, id, reply](bool) { answer_job(self, id, reply); },
                      [reply](const caf::error& err) { reply.deliver(err); });
          },
          [self](atom::unfreeze, const std::string& repo,
                 reply_to<int64_t>& reply) {
            ask(self, self->state.to.freezes, reply, atom::unfreeze_v, repo);
          },
          [self](atom::freezes, reply_to<std::vector<freeze_row>>& reply) {
            ask(self, self->state.to.freezes, reply, atom::freezes_v);
          },
          [self](atom::stop_task, int64_t task, reply_to<task_row>& reply) {
            self->request(self->state.to.storage, self->state.timeout,
                          atom::stop_task_v, task)
                .then(
                    [self, task, reply](const std::vector<int64_t>& running) {
                      // The scheduler fails each running job and stops its
                      // agent; the task is cancelled either way.
                      for (auto id : running)
                        self->request(self->state.to.scheduler,
                                      self->state.timeout, atom::cancel_v, id)
                            .then(
                                [](bool) {},
                                [id](const caf::error& err) {
                                  log::warn(
                                      "orchd.admin_api: cannot cancel job ", id,
                                      " of a cancelled task: ", describe(err));
                                });
                      log::info("orchd.admin_api: task ", task,
                                " cancelled by the operator");
                      if (self->state.to.tracker)
                        self->send(self->state.to.tracker, atom::card_v, task,
                                   true);
                      ask(self, self->state.to.storage, reply,
                          atom::task_by_id_v, task);
                    },
                    [reply](const caf::error& err) { reply.deliver(err); });
          },
          [self](atom::backup, const std::string& path,
                 reply_to<backup_result>& reply) {
            // A large file takes a while: the HTTP reply's own timeout is the
            // limit that matters to the caller.
            self->request(self->state.to.storage, std::chrono::minutes(30),
                          atom::backup_v, path)
                .then(
                    [reply](backup_result& r) { reply.deliver(std::move(r)); },
                    [reply](const caf::error& err) { reply.deliver(err); });
          },
          [self](atom::status, reply_to<std::vector<actor_status>>& reply) {
            if (!self->state.to.inspector)
              return reply.deliver(std::vector<actor_status>{});
            ask(self, self->state.to.inspector, reply, atom::status_v);
          },
          [self](atom::status, const std::string& name,
                 reply_to<actor_status>& reply) {
            if (!self->state.to.inspector)
              return reply.deliver(caf::make_error(ec::no_such_actor,
                                                   "no inspector is running"));
            ask(self, self->state.to.inspector, reply, atom::status_v, name);
          },
          [self](atom::recent, int64_t limit, caf::optional<job_status>& status,
                 reply_to<std::vector<job_row>>& reply) {
            if (status)
              ask(self, self->state.to.storage, reply, atom::recent_v, limit,
                  *status);
            else
              ask(self, self->state.to.storage, reply, atom::recent_v, limit);
          },
          [self](atom::metrics, reply_to<std::string>& reply) {
            answer_metrics(self, reply);
          },
          [self](atom::output, int64_t job, int64_t offset,
                 reply_to<job_output>& reply) {
            answer_output(self, job, offset, reply);
          },
          [self](atom::setup, int64_t task, reply_to<task_row>& reply) {
            // The task creator makes worktrees; it answers the caller itself.
            if (!self->state.to.creator)
              return reply.deliver(caf::make_error(
                  ec::invalid_argument, "no task creator to make worktrees"));
            self->send(self->state.to.creator, atom::setup_v, task,
                       std::move(reply));
          },
          [self](atom::add_dep, int64_t task, int64_t other,
                 reply_to<bool>& reply) {
            self->request(self->state.to.storage, self->state.timeout,
                          atom::add_dep_v, task, other)
                .then(
                    [self, reply](bool created) {
                      reply.deliver(created);
                      // A new edge may release or hold a job.
                      self->send(self->state.to.scheduler, atom::wake_v);
                    },
                    [reply](const caf::error& err) { reply.deliver(err); });
          },
      });
}

admin_api_actor spawn_admin_api(caf::actor_system& sys, admin_backends to,
                                std::chrono::milliseconds timeout) {
  return sys.spawn(admin_api, std::move(to), timeout);
}

} // namespace orchd
