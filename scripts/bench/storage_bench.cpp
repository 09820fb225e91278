// Benchmark: de-duplicated event inserts through the storage actor (group
// commit) from N concurrent requesters, against the same inserts committed
// one by one (the Python orchestrator's way), both on real files with the
// same synchronous mode, in the same run. Prints a table.
#include "actors/core/actors.hpp"
#include "actors/core/error.hpp"
#include "actors/core/log.hpp"
#include "scripts/bench/bench_db.hpp"
#include "storage/database.hpp"
#include "storage/storage_actor.hpp"
#include "storage/store.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

using namespace orchd;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  int requesters = 64;
  int per_requester = 4000;
  int serial_inserts = 3000;
  size_t payload_bytes = 1024;
  std::string synchronous = "full";
  std::string dir = "var/bench";
  std::string policy = "stealing";
  bool timeouts = true;
  // Extra SQL run on both files after opening (for experiments).
  std::string pragma;
};

std::string payload(size_t bytes, int i) {
  std::string p =
      "{\"action\":\"completed\",\"n\":" + std::to_string(i) + ",\"pad\":\"";
  if (p.size() + 2 < bytes)
    p.append(bytes - p.size() - 2, 'x');
  return p + "\"}";
}

std::shared_ptr<storage::database> fresh_db(const options& opt,
                                            const std::string& name) {
  return bench::fresh_db(opt.dir, name, opt.synchronous, opt.pragma);
}

struct requester_state {
  int sent = 0;
  // Sends the next insert; lives in the state (not a self-referencing
  // closure) so the actor and its storage handle are released on quit.
  std::function<void()> send_next;
  static inline const char* name = "bench.requester";
};

// Sends one insert at a time, the next when the previous is acknowledged.
caf::behavior requester(caf::stateful_actor<requester_state>* self,
                        storage_actor store, caf::actor done, int id, int count,
                        size_t bytes, bool timeouts) {
  // With timeouts, each request also arms a timer in CAF's clock, as an
  // HTTP-facing actor's requests do.
  caf::duration limit =
      timeouts ? caf::duration{std::chrono::seconds(30)} : caf::infinite;
  self->state.send_next = [=] {
    if (self->state.sent == count) {
      self->send(done, atom::finish_v);
      self->quit();
      return;
    }
    auto i = self->state.sent++;
    event_record ev{"github", "check_run", payload(bytes, i),
                    "bench-" + std::to_string(id) + "-" + std::to_string(i)};
    self->request(store, limit, atom::record_v, std::move(ev), ci_mapping{})
        .then([=](const event_ack&) { self->state.send_next(); },
              [=](const caf::error& err) {
                std::fprintf(stderr, "insert failed: %s\n",
                             describe(err).c_str());
                std::exit(1);
              });
  };
  self->state.send_next();
  return {};
}

struct row {
  std::string mode;
  int64_t inserts;
  double seconds;
  int64_t commits;
};

row group_commit(const options& opt) {
  caf::actor_system_config cfg;
  register_types(cfg);
  configure_scheduler(cfg);
  cfg.set("scheduler.policy", opt.policy == "sharing" ? caf::atom("sharing")
                                                      : caf::atom("stealing"));
  caf::actor_system sys{cfg};
  auto store = storage::spawn_storage(sys, fresh_db(opt, "group.db"), true);
  caf::scoped_actor self{sys};
  auto start = clock_type::now();
  for (int r = 0; r < opt.requesters; ++r)
    sys.spawn(requester, store, caf::actor{self}, r, opt.per_requester,
              opt.payload_bytes, opt.timeouts);
  for (int r = 0; r < opt.requesters; ++r)
    self->receive([](atom::finish) {});
  std::chrono::duration<double> took = clock_type::now() - start;
  storage_stats stats;
  self->request(store, std::chrono::seconds(30), atom::stats_v)
      .receive([&](storage_stats& s) { stats = s; },
               [](caf::error&) { std::exit(1); });
  self->request(store, std::chrono::seconds(30), atom::shutdown_v)
      .receive([](bool) {}, [](caf::error&) { std::exit(1); });
  return {"group commit, " + std::to_string(opt.requesters) + " requesters",
          stats.writes, took.count(), stats.commits};
}

row one_commit_per_insert(const options& opt) {
  auto db = fresh_db(opt, "serial.db");
  storage::store st{*db};
  auto start = clock_type::now();
  for (int i = 0; i < opt.serial_inserts; ++i) {
    // Autocommit: each insert is its own transaction and its own fsync.
    auto ack =
        st.add_event({"github", "check_run", payload(opt.payload_bytes, i),
                      "serial-" + std::to_string(i)});
    if (!ack || !ack->created)
      std::exit(1);
  }
  std::chrono::duration<double> took = clock_type::now() - start;
  return {"one commit per insert", opt.serial_inserts, took.count(),
          opt.serial_inserts};
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  bench::read_options(argc, argv,
                      [&](const std::string& k, const std::string& v) {
                        if (k == "--requesters")
                          opt.requesters = std::stoi(v);
                        else if (k == "--per-requester")
                          opt.per_requester = std::stoi(v);
                        else if (k == "--serial-inserts")
                          opt.serial_inserts = std::stoi(v);
                        else if (k == "--payload-bytes")
                          opt.payload_bytes = std::stoul(v);
                        else if (k == "--synchronous")
                          opt.synchronous = v;
                        else if (k == "--dir")
                          opt.dir = v;
                        else if (k == "--pragma")
                          opt.pragma = v;
                        else if (k == "--policy")
                          opt.policy = v;
                        else if (k == "--timeouts")
                          opt.timeouts = v != "off";
                        else
                          return false;
                        return true;
                      });
  log::set_level(log::level::warn);
  std::filesystem::create_directories(opt.dir);
  auto serial = one_commit_per_insert(opt);
  auto group = group_commit(opt);
  auto rate = [](const row& r) {
    return r.inserts / r.seconds;
  };
  std::printf("storage benchmark: synchronous=%s, payload %zu bytes, %s\n\n",
              opt.synchronous.c_str(), opt.payload_bytes, opt.dir.c_str());
  std::printf("| %-34s | %9s | %8s | %8s | %11s | %9s |\n", "mode", "inserts",
              "seconds", "commits", "inserts/s", "vs serial");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(36, '-').c_str(),
              std::string(11, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str(), std::string(13, '-').c_str(),
              std::string(11, '-').c_str());
  for (auto* r : {&serial, &group})
    std::printf("| %-34s | %9lld | %8.2f | %8lld | %11.0f | %8.1fx |\n",
                r->mode.c_str(), static_cast<long long>(r->inserts), r->seconds,
                static_cast<long long>(r->commits), rate(*r),
                rate(*r) / rate(serial));
  std::printf("\ntargets: >= 50000 durable inserts/s and >= 50x serial\n");
  return 0;
}
