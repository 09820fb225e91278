// The Plane outbox under the deterministic scheduler, in front of a real
// storage actor, with a recording stand-in for HTTP: calls leave at the
// key's rate, in order per task, state names resolved once, a 429's hint
// honoured, a refusal kept.
#include "actors/pipeline/plane_outbox.hpp"

#include "storage/storage_actor.hpp"
#include "storage/store.hpp"
#include "tests/support/test.hpp"

using namespace orchd;
using orchd::test::sql_rows;
using orchd::test::unbox;

namespace {

struct outbox_fixture : test::actor_fixture {
  test::temp_dir dir;
  std::shared_ptr<storage::database> db = test::open_db(dir.file("o.db"));
  storage_actor store = storage::spawn_storage(sys, db, false);
  storage::store st{*db};
  std::shared_ptr<std::vector<std::string>> sent =
      std::make_shared<std::vector<std::string>>();
  /// Statuses to answer the next calls with (front first), then 2xx.
  std::shared_ptr<std::vector<int>> script =
      std::make_shared<std::vector<int>>();

  ~outbox_fixture() { stop(store); }

  int64_t task(const std::string& plane_id, int64_t seq) {
    work_item_request x;
    x.plane_id = plane_id;
    x.repo = "acme/widgets";
    x.prefix = "ET";
    x.sequence_id = seq;
    x.first_content = "x";
    return unbox(st.create_work_item(x)).task.id;
  }

  plane_outbox_actor spawn_outbox() {
    plane_outbox_settings s;
    s.endpoint = {"https://plane.test", "acme", "key"};
    project_config p;
    p.repo = "acme/widgets";
    p.plane_project_id = "proj";
    s.projects = {p};
    s.requests_per_minute = 60;
    auto log = sent;
    auto answers = script;
    outbound_send send = [log, answers](const outbound_request& r) {
      auto path = r.url.substr(r.url.find("/projects/proj/") + 15);
      log->push_back(r.method + " " + path);
      outbound_response res;
      res.status = r.method == "POST" ? 201 : 200;
      if (!answers->empty()) {
        res.status = answers->front();
        answers->erase(answers->begin());
        if (res.status == 429)
          res.headers.emplace_back("Retry-After", "30");
      }
      if (r.method == "GET" && res.status == 200)
        res.body = R"({"results": [{"id": "s-review", "name": "BRD Review"},
                                   {"id": "s-done", "name": "Done"}]})";
      return res;
    };
    return sys.spawn(plane_outbox, store, s, send);
  }
};

} // namespace

TEST_CASE_FIXTURE(outbox_fixture,
                  "calls leave at the key's rate, in order per task") {
  auto a = task("p-a", 1);
  auto b = task("p-b", 2);
  st.queue_plane_call(a, "state", "review");
  st.queue_plane_call(a, "comment", "BRD ready");
  st.queue_plane_call(b, "state", "done");
  auto outbox = spawn_outbox();
  run();
  // The states list (once per project), then A's state change.
  CHECK(*sent ==
        std::vector<std::string>{"GET states/", "PATCH work-items/p-a/"});
  // One a second (60 a minute), oldest first: A's comment (its state is
  // settled), then B's state.
  sched.advance_time(std::chrono::milliseconds(999));
  run();
  CHECK(sent->size() == 2);
  sched.advance_time(std::chrono::milliseconds(1));
  run();
  CHECK(sent->size() == 3);
  CHECK(sent->back() == "POST work-items/p-a/comments/");
  sched.advance_time(std::chrono::seconds(1));
  run();
  CHECK(sent->size() == 4);
  CHECK(sent->back() == "PATCH work-items/p-b/");
  CHECK(sql_rows(*db, "SELECT COUNT(*) FROM plane_outbox WHERE sent_at IS "
                      "NOT NULL") == "3\n");
  stop(outbox);
}

TEST_CASE_FIXTURE(outbox_fixture,
                  "a 429 waits for its hint; a refusal is kept, not retried") {
  auto a = task("p-a", 1);
  auto b = task("p-b", 2);
  st.queue_plane_call(a, "comment", "one");
  st.queue_plane_call(a, "comment", "two");
  st.queue_plane_call(b, "comment", "gone");
  *script = {429, 404};
  auto outbox = spawn_outbox();
  run();
  sched.advance_time(std::chrono::seconds(1));
  run();
  sched.advance_time(std::chrono::seconds(1));
  run();
  // A's first comment got 429 (held 30 s, its second waits behind it); B's
  // got 404 (given up).
  CHECK(sent->size() == 2);
  CHECK(sql_rows(*db, "SELECT body, attempts, error, given_up_at IS NOT NULL, "
                      "available_at > datetime('now', '+25 seconds') FROM "
                      "plane_outbox ORDER BY id") ==
        "one|1|HTTP 429|0|1\ntwo|0|NULL|0|NULL\ngone|1|HTTP 404|1|NULL\n");
  stop(outbox);
}
