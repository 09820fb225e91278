#include "storage/storage_actor.hpp"

#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "actors/core/metrics.hpp"
#include "storage/database.hpp"
#include "storage/store.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>

#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace orchd::storage {

namespace {

// The most requests one commit answers; beyond it the batch commits even
// while more requests wait, so no request waits behind an endless stream.
constexpr size_t max_batch_size = 1024;

} // namespace

// -- batch ------------------------------------------------------------------

void storage_state::fail_batch(const caf::error& err) {
  auto replies = std::move(batch);
  batch.clear();
  for (auto& r : replies)
    r->fail(err);
}

void storage_state::write_failed(const std::string& what) {
  ++failed_writes;
  if (writes_failing)
    return;
  writes_failing = true;
  log::error("orchd.storage: writes fail: ", what,
             "; each is answered with an error (webhooks: 503, so senders "
             "retry) until one commits");
}

void storage_state::flush() {
  if (!db || !db->in_transaction()) {
    // Nothing open, or SQLite already rolled the batch back (and failed it).
    fail_batch(caf::make_error(ec::storage_failed, "transaction lost"));
    return;
  }
  auto began = std::chrono::steady_clock::now();
  try {
    db->prepare("COMMIT")->step();
  } catch (const sql_error& e) {
    write_failed("commit failed, rolling back " + std::to_string(batch.size()) +
                 " requests: " + e.what());
    ++stats.failed_commits;
    if (db->in_transaction()) {
      try {
        db->exec("ROLLBACK");
      } catch (const sql_error& e2) {
        log::error("orchd.storage: rollback failed: ", e2.what());
      }
    }
    fail_batch(caf::make_error(ec::storage_failed,
                               std::string{"commit failed: "} + e.what()));
    return;
  }
  ++stats.commits;
  auto took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
          .count();
  last_commit_at = static_cast<int64_t>(std::time(nullptr));
  last_commit_s = took;
  requests_committed += static_cast<int64_t>(batch.size());
  metrics::observe("orchd_storage_commit_seconds", {}, took);
  metrics::observe("orchd_storage_batch_rows", {},
                   static_cast<double>(batch.size()));
  if (writes_failing) {
    log::warn("orchd.storage: writes commit again, after ", failed_writes,
              " failed");
    writes_failing = false;
    failed_writes = 0;
  }
  stats.largest_batch =
      std::max(stats.largest_batch, static_cast<int64_t>(batch.size()));
  auto replies = std::move(batch);
  batch.clear();
  for (auto& r : replies)
    r->deliver();
}

namespace {

// -- calling the store ------------------------------------------------------

template <class T>
struct unwrap {
  using type = T;
};

template <class T>
struct unwrap<caf::expected<T>> {
  using type = T;
};

// The value type a store call yields, whether it returns T or expected<T>.
template <class F>
using value_of =
    typename unwrap<decltype(std::declval<F&>()(std::declval<store&>()))>::type;

template <class T>
class pending_value final : public pending_reply {
public:
  pending_value(caf::typed_response_promise<T> rp, T value)
      : rp_(std::move(rp))
      , value_(std::move(value)) {}

  void deliver() override { rp_.deliver(std::move(value_)); }

  void fail(const caf::error& err) override { rp_.deliver(err); }

private:
  caf::typed_response_promise<T> rp_;
  T value_;
};

// Holds the reply until the open batch commits.
template <class T>
caf::result<T> reply_after_commit(storage_pointer self, T value) {
  auto rp = self->make_response_promise<T>();
  self->state.batch.push_back(
      std::make_unique<pending_value<T>>(rp, std::move(value)));
  return rp;
}

caf::error closed() {
  return caf::make_error(ec::storage_unusable, "the database is closed");
}

caf::error failed(const sql_error& e) {
  return caf::make_error(ec::storage_failed, e.what());
}

// How a write keeps a failed request from leaving anything behind.
enum class atomicity {
  // Several statements: the request runs in its own savepoint.
  savepoint,
  // One data-changing statement (after checks that change nothing): SQLite
  // already undoes a failed statement alone, so a savepoint would only add
  // two statements and a page bitmap to every request.
  statement,
};

// A write joins the open batch (opening one, and scheduling its flush
// behind everything already in the mailbox, if none is open). A request
// that fails leaves nothing behind and does not fail the others, unless
// SQLite itself rolled the whole transaction back (it may on SQLITE_FULL or
// SQLITE_IOERR).
template <class F>
caf::result<value_of<F>> write(storage_pointer self, F f,
                               atomicity how = atomicity::savepoint) {
  using T = value_of<F>;
  auto& st = self->state;
  if (!st.db)
    return closed();
  ++st.arrivals_since_flush;
  auto& db = *st.db;
  try {
    if (!db.in_transaction()) {
      db.prepare("BEGIN IMMEDIATE")->step();
      st.arrivals_since_flush = 0;
      self->send(self, atom::flush_v);
    }
    if (how == atomicity::savepoint)
      db.prepare("SAVEPOINT request")->step();
  } catch (const sql_error& e) {
    st.write_failed(std::string{"cannot open a write: "} + e.what());
    return failed(e);
  }
  caf::expected<T> result{caf::error{}};
  try {
    result = f(*st.data);
  } catch (const sql_error& e) {
    result = failed(e);
    st.write_failed(e.what());
    if (!db.in_transaction()) {
      log::error("orchd.storage: SQLite rolled back the batch: ", e.what());
      st.fail_batch(result.error());
      return result.error();
    }
  }
  if (how == atomicity::statement) {
    if (!result)
      return result.error();
    ++st.stats.writes;
    return reply_after_commit(self, std::move(*result));
  }
  try {
    if (result) {
      db.prepare("RELEASE request")->step();
      ++st.stats.writes;
      return reply_after_commit(self, std::move(*result));
    }
    db.prepare("ROLLBACK TO request")->step();
    db.prepare("RELEASE request")->step();
  } catch (const sql_error& e) {
    // The savepoint itself failed: the batch's state is unknown, drop it.
    log::error("orchd.storage: savepoint failed, rolling back the batch: ",
               e.what());
    if (db.in_transaction()) {
      try {
        db.exec("ROLLBACK");
      } catch (const sql_error&) {
        // Reported above; the connection rolls back when closed.
      }
    }
    st.fail_batch(failed(e));
    return failed(e);
  }
  return result.error();
}

// A read answers at once, unless a batch is open: then it waits for the
// commit, so nobody sees a row that might still roll back.
template <class F>
caf::result<value_of<F>> read(storage_pointer self, F f) {
  using T = value_of<F>;
  auto& st = self->state;
  if (!st.db)
    return closed();
  caf::expected<T> result{caf::error{}};
  try {
    result = f(*st.data);
  } catch (const sql_error& e) {
    return failed(e);
  }
  ++st.stats.reads;
  if (!result)
    return result.error();
  if (st.db->in_transaction())
    return reply_after_commit(self, std::move(*result));
  return std::move(*result);
}

} // namespace

// -- behavior ---------------------------------------------------------------

storage_actor::behavior_type
storage(storage_pointer self, std::shared_ptr<database> db, hold_rule holds) {
  self->state.db = std::move(db);
  self->state.data = std::make_unique<store>(*self->state.db);
  self->state.data->set_hold_rule(std::move(holds));
  using std::string;
  return counted(
      self->state.vitals,
      storage_actor::behavior_type{
          [self](atom::status) {
            return status_of(self, self->state.vitals, "storage",
                             status_summary(self->state));
          },
          // -- tasks --
          [self](atom::task_by_id, int64_t id) {
            return read(self, [&](store& s) { return s.task_by_id(id); });
          },
          [self](atom::open_tasks) {
            return read(self, [](store& s) { return s.active_tasks(); });
          },
          [self](atom::in_stage, const string& repo, task_stage stage) {
            return read(
                self, [&](store& s) { return s.tasks_in_stage(repo, stage); });
          },
          [self](atom::set_stage, int64_t id, task_stage stage) {
            return write(self,
                         [&](store& s) { return s.set_stage(id, stage); });
          },
          [self](atom::stop_task, int64_t id) {
            return write(self, [&](store& s) { return s.cancel_task(id); });
          },
          [self](atom::make_task, const work_item_request& x) {
            return write(self, [&](store& s) { return s.create_work_item(x); });
          },
          [self](atom::pipeline, int64_t task_id) {
            return read(self,
                        [&](store& s) { return s.pipeline_state(task_id); });
          },
          [self](atom::transition, int64_t task_id, task_stage from,
                 const std::vector<stage_action>& actions) {
            return write(self, [&](store& s) {
              return s.apply_transition(task_id, from, actions);
            });
          },
          [self](atom::by_plane, const string& plane_id) {
            return read(self,
                        [&](store& s) { return s.task_by_plane_id(plane_id); });
          },
          [self](atom::view, int64_t task_id) {
            return read(
                self, [&](store& s) { return s.task_with_pipeline(task_id); });
          },
          [self](atom::detail, int64_t task_id) {
            return read(self,
                        [&](store& s) { return s.task_detail_of(task_id); });
          },
          [self](atom::idle) {
            return read(self, [&](store& s) { return s.idle_tasks(); });
          },
          [self](atom::outbox, int64_t limit) {
            return read(self,
                        [&](store& s) { return s.due_plane_calls(limit); });
          },
          [self](atom::outbox) {
            return read(self,
                        [&](store& s) { return s.next_plane_call_due_ms(); });
          },
          [self](atom::sent, const plane_call_result& x) {
            return write(
                self, [&](store& s) { return s.settle_plane_call(x); },
                atomicity::statement);
          },
          [self](atom::backup,
                 const string& path) -> caf::result<backup_result> {
            auto& st = self->state;
            if (!st.db)
              return closed();
            if (st.backup)
              return caf::make_error(ec::conflict, "a backup is running: " +
                                                       st.backup->path());
            auto b = online_backup::start(*st.db, path);
            if (!b)
              return b.error();
            st.backup = std::move(*b);
            st.backup_reply = self->make_response_promise<backup_result>();
            log::info("orchd.storage: backup to ", path, " started");
            self->send(self, atom::backup_v);
            return st.backup_reply;
          },
          [self](atom::backup) {
            auto& st = self->state;
            if (!st.backup)
              return;
            caf::expected<bool> done{caf::make_error(ec::storage_unusable,
                                                     "the database is closed")};
            if (st.db) {
              // A step reads committed pages only: the open batch commits
              // first.
              if (st.db->in_transaction())
                st.flush();
              done = st.backup->step(256);
            }
            if (done && !*done) {
              self->send(self, atom::backup_v);
              return;
            }
            if (!done) {
              log::error("orchd.storage: backup to ", st.backup->path(),
                         " failed: ", describe(done.error()));
              st.backup_reply.deliver(done.error());
            } else {
              backup_result r;
              r.path = st.backup->path();
              r.pages = st.backup->pages();
              std::error_code err;
              r.bytes =
                  static_cast<int64_t>(std::filesystem::file_size(r.path, err));
              log::info("orchd.storage: backup to ", r.path, " done: ", r.pages,
                        " pages, ", r.bytes, " bytes");
              st.backup_reply.deliver(std::move(r));
            }
            st.backup.reset();
          },
          [self](atom::card, int64_t task_id) {
            return read(self,
                        [&](store& s) { return s.card_facts_of(task_id); });
          },
          [self](atom::card, int64_t task_id, int64_t message_id) {
            return write(self, [&](store& s) {
              return s.record_tracker_card(task_id, message_id);
            });
          },
          [self](atom::card_gone, int64_t task_id, int64_t message_id) {
            return write(
                self,
                [&](store& s) {
                  return s.mark_tracker_card_deleted(task_id, message_id);
                },
                atomicity::statement);
          },
          [self](atom::cards, bool everything) {
            return read(self,
                        [&](store& s) { return s.cards_due(everything); });
          },
          [self](atom::finished, int64_t days) {
            return read(self,
                        [&](store& s) { return s.finished_before(days); });
          },
          [self](atom::on_branch, const string& repo,
                 const std::vector<string>& branches) {
            return read(self, [&](store& s) {
              return s.task_on_branches(repo, branches);
            });
          },
          // -- events --
          [self](atom::record, const event_record& x, const ci_mapping& ci) {
            return write(
                self, [&](store& s) { return s.add_event(x, ci); },
                atomicity::statement);
          },
          [self](atom::handled, int64_t id) {
            return write(
                self, [&](store& s) { return s.mark_event_processed(id); },
                atomicity::statement);
          },
          [self](atom::prune, int64_t days) {
            return write(
                self, [&](store& s) { return s.clear_old_payloads(days); },
                atomicity::statement);
          },
          [self](atom::unhandled, const string& source, int64_t older_than_s) {
            return read(self, [&](store& s) {
              return s.unprocessed_events(source, older_than_s);
            });
          },
          [self](atom::ci_result, const ci_outcome& x) {
            return write(
                self, [&](store& s) { return s.record_ci_outcome(x); },
                atomicity::statement);
          },
          // -- jobs --
          [self](atom::enqueue, const new_job& x) {
            return write(
                self, [&](store& s) { return s.enqueue(x); },
                atomicity::statement);
          },
          [self](atom::claim, const claim_options& opts) {
            return write(
                self, [&](store& s) { return s.claim_next_job(opts); },
                atomicity::statement);
          },
          [self](atom::backoff, const transient_requeue& x) {
            return write(
                self, [&](store& s) { return s.requeue_transient(x); },
                atomicity::statement);
          },
          [self](atom::mark_job, const job_mark& x) {
            return write(
                self, [&](store& s) { return s.mark_job(x); },
                atomicity::statement);
          },
          [self](atom::finalise, const job_mark& x) {
            return write(
                self, [&](store& s) { return s.finalise_job(x); },
                atomicity::statement);
          },
          [self](atom::interrupt, const interruption& x) {
            return write(
                self, [&](store& s) { return s.requeue_interrupted(x); },
                atomicity::statement);
          },
          [self](atom::n_running) {
            return read(self, [](store& s) { return s.running_count(); });
          },
          [self](atom::running) {
            return read(self, [](store& s) { return s.running_jobs(); });
          },
          [self](atom::job_by_id, int64_t id) {
            return read(self, [&](store& s) { return s.job_by_id(id); });
          },
          [self](atom::stamp_pid, const job_pid& x) {
            return write(
                self, [&](store& s) { return s.stamp_pid(x); },
                atomicity::statement);
          },
          [self](atom::cancel, int64_t id) {
            return write(self, [&](store& s) { return s.cancel_job(id); });
          },
          [self](atom::requeue, int64_t id) {
            return write(self, [&](store& s) { return s.requeue_failed(id); });
          },
          [self](atom::next_due) {
            return read(self, [](store& s) { return s.next_due_in_ms(); });
          },
          [self](atom::job_counts) {
            return read(self, [](store& s) { return s.count_jobs(); });
          },
          [self](atom::metrics) {
            return read(self, [](store& s) { return s.metric_samples(); });
          },
          [self](atom::output, int64_t run_id) {
            return read(self,
                        [&](store& s) { return s.run_output_path(run_id); });
          },
          [self](atom::costs, const cost_query& q) {
            return read(self, [&](store& s) { return s.costs(q); });
          },
          [self](atom::budget, const budget_change& x) {
            return write(self, [&](store& s) { return s.set_budget(x); });
          },
          [self](atom::holds) {
            return read(self, [](store& s) { return s.held_jobs(); });
          },
          [self](atom::recent, int64_t limit) {
            return read(self, [&](store& s) { return s.recent_jobs(limit); });
          },
          [self](atom::recent, int64_t limit, job_status status) {
            return read(self,
                        [&](store& s) { return s.recent_jobs(limit, status); });
          },
          // -- agent runs --
          [self](atom::begin_run, const run_start& x) {
            return write(self, [&](store& s) { return s.begin_run(x); });
          },
          [self](atom::finish_run, const run_outcome& x) {
            return write(self, [&](store& s) { return s.finish_run(x); });
          },
          // -- dependencies and freezes --
          [self](atom::add_dep, int64_t task, int64_t other) {
            return write(self, [&](store& s) {
              return s.declare_dependency(task, other);
            });
          },
          [self](atom::freeze, const string& repo, const string& reason,
                 const string& work_item) {
            return write(self, [&](store& s) {
              return s.freeze_repo(repo, reason, work_item);
            });
          },
          [self](atom::unfreeze, const string& repo) {
            return write(self, [&](store& s) { return s.unfreeze_repo(repo); });
          },
          [self](atom::freezes) {
            return read(self, [](store& s) { return s.active_freezes(); });
          },
          // -- the actor itself --
          [self](atom::stats) { return self->state.stats; },
          [self](atom::shutdown) -> caf::result<bool> {
            auto& st = self->state;
            if (st.backup) {
              st.backup_reply.deliver(
                  caf::make_error(ec::storage_unusable,
                                  "orchd stopped before the backup was done"));
              st.backup.reset();
            }
            st.flush();
            st.data.reset();
            st.db.reset();
            log::info("orchd.storage: database closed after ", st.stats.commits,
                      " commits");
            auto rp = self->make_response_promise<bool>();
            rp.deliver(true);
            self->quit();
            return rp;
          },
          [self](atom::flush) {
            // Requests handled since this flush was queued arrived while the
            // batch was open; the commit then waits behind whatever came after
            // them, until a round brings nothing new (or the batch is full), so
            // one fsync serves every writer waiting right now.
            auto& st = self->state;
            if (st.arrivals_since_flush > 0 &&
                st.batch.size() < max_batch_size) {
              st.arrivals_since_flush = 0;
              self->send(self, atom::flush_v);
              return;
            }
            st.flush();
          },
      });
}

storage_actor spawn_storage(caf::actor_system& sys,
                            std::shared_ptr<database> db, bool detached,
                            hold_rule holds) {
  if (detached)
    return sys.spawn<caf::detached>(storage, std::move(db), std::move(holds));
  return sys.spawn(storage, std::move(db), std::move(holds));
}

} // namespace orchd::storage
