// The store's support for the event stream and administration: timelines, pause state,
// batch transitions, newest-first listing and the change listener.

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"
#include "storage/store.hpp"
#include "tests/unit/store_fixture.hpp"

using namespace taskd;
using namespace taskd::testing;

namespace {

task_id create(store& s, const std::string& type) {
  task t;
  t.type = type;
  auto r = commit(s, create_op{{t}});
  REQUIRE(r.ok());
  return r->front().after.id;
}

void transition(store& s, task_id id, std::function<status(task&)> apply) {
  auto r = commit(s, update_op{id, std::move(apply), true});
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
}

} // namespace

TEST_CASE("store: a task's timeline is its logged changes, gone with the task") {
  temp_dir dir;
  auto s = open_store(dir);
  auto id = create(*s, "a");
  auto other = create(*s, "a");
  transition(*s, id, [](task& t) { return start_attempt(t, now_ms()); });
  transition(*s, id, [](task& t) { return complete_attempt(t, nullptr, now_ms()); });
  auto tl = s->task_changes(id, 100);
  REQUIRE(tl.ok());
  REQUIRE(tl->size() == 3);
  CHECK((*tl)[0].t.status == task_status::pending);
  CHECK((*tl)[1].t.status == task_status::in_progress);
  CHECK((*tl)[2].t.status == task_status::completed);
  CHECK((*tl)[0].seq < (*tl)[1].seq);
  CHECK(s->task_changes(other, 100)->size() == 1);
  REQUIRE(commit(*s, delete_op{id}).ok());
  CHECK(s->task_changes(id, 100)->empty());
  CHECK(s->task_changes(other, 100)->size() == 1);
}

TEST_CASE("store: pause state is durable and not a task change") {
  temp_dir dir;
  {
    auto s = open_store(dir);
    auto head = s->head_seq();
    REQUIRE(commit(*s, pause_op{"a", true}).ok());
    REQUIRE(commit(*s, pause_op{"b", true}).ok());
    REQUIRE(commit(*s, pause_op{"b", false}).ok());
    CHECK(s->paused_types() == std::set<std::string, std::less<>>{"a"});
    CHECK(s->head_seq() == head);
  }
  auto s = open_store(dir);
  CHECK(s->paused_types() == std::set<std::string, std::less<>>{"a"});
}

TEST_CASE("store: a batch applies where it can and skips the rest") {
  temp_dir dir;
  auto s = open_store(dir);
  auto a = create(*s, "a");
  auto b = create(*s, "a");
  transition(*s, b, [](task& t) { return cancel_task(t, now_ms()); });
  auto r = commit(*s, batch_op{{a, b, 999}, [](task& t) { return cancel_task(t, now_ms()); }});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1); // b was cancelled already, 999 does not exist
  CHECK(r->front().after.id == a);
  CHECK(r->front().after.status == task_status::cancelled);
  CHECK(s->counts()["a"][static_cast<int>(task_status::cancelled)] == 2);
  // Erasing batch: only what the check accepts.
  r = commit(*s, batch_op{{a, b}, [](task& t) { return check_finished_before(t, 0); }, true});
  REQUIRE(r.ok());
  CHECK(r->empty()); // finished after cutoff 0
  r = commit(
      *s,
      batch_op{{a, b}, [](task& t) { return check_finished_before(t, now_ms() + 1000); }, true});
  REQUIRE(r.ok());
  CHECK(r->size() == 2);
  CHECK(!s->get(a)->has_value());
}

TEST_CASE("store: listing newest first pages downwards") {
  temp_dir dir;
  auto s = open_store(dir);
  for (int i = 0; i < 5; ++i) create(*s, i % 2 ? "odd" : "even");
  list_filter f;
  f.descending = true;
  f.limit = 2;
  auto p = s->list(f);
  REQUIRE(p.ok());
  REQUIRE(p->tasks.size() == 2);
  CHECK(p->tasks[0].id == 5);
  CHECK(p->tasks[1].id == 4);
  REQUIRE(p->next_after);
  f.after = *p->next_after;
  f.limit = 10;
  p = s->list(f);
  REQUIRE(p->tasks.size() == 3);
  CHECK(p->tasks[0].id == 3);
  CHECK(!p->next_after);
  list_filter by_status;
  by_status.descending = true;
  by_status.status = task_status::pending;
  by_status.limit = 3;
  p = s->list(by_status); // merged over types, still newest first
  REQUIRE(p->tasks.size() == 3);
  CHECK(p->tasks[0].id == 5);
  CHECK(p->tasks[1].id == 4);
  CHECK(p->tasks[2].id == 3);
}

TEST_CASE("store: the change listener hears each durable head") {
  temp_dir dir;
  auto s = open_store(dir);
  std::atomic<std::uint64_t> heard{0};
  s->on_changes([&](std::uint64_t head) { heard = head; });
  create(*s, "a");
  create(*s, "a");
  CHECK(heard.load() == s->head_seq());
  CHECK(heard.load() == 2);
  REQUIRE(commit(*s, pause_op{"a", true}).ok()); // no change logged: no call
  CHECK(heard.load() == 2);
  s->on_changes({});
}
