#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"
#include "storage/store.hpp"
#include "tests/unit/store_fixture.hpp"

using namespace taskd;
using namespace taskd::testing;

namespace {

task new_task(const std::string& type, int priority = 0, millis run_at = 0) {
  task t;
  t.type = type;
  t.priority = priority;
  t.payload = boost::json::object{{"type", type}};
  t.run_at = run_at;
  return t;
}

/// Holds the writer in an applied callback until `release` is set, so that what is
/// submitted meanwhile joins one group.
void hold_writer(store& s, std::shared_future<void> release) {
  std::promise<void> entered;
  s.submit(
      create_op{{new_task("hold")}}, [](write_result r) { CHECK(r.ok()); },
      [&entered, release](write_result) {
        entered.set_value();
        release.wait();
      });
  entered.get_future().wait();
}

std::vector<task_id> ids_of(const std::vector<task_change>& changes) {
  std::vector<task_id> out;
  for (auto& c : changes) out.push_back(c.after.id);
  return out;
}

} // namespace

TEST_CASE("store: create assigns increasing ids and indexes for dispatch") {
  temp_dir dir;
  auto s = open_store(dir);
  auto r = commit(*s, create_op{{new_task("a"), new_task("a", 5), new_task("b")}});
  REQUIRE(r.ok());
  CHECK(ids_of(*r) == std::vector<task_id>{1, 2, 3});
  CHECK(r->at(0).after.status == task_status::pending);

  auto lane = s->ready_page(task_mode::async, "a", std::nullopt, 10);
  REQUIRE(lane.ok());
  REQUIRE(lane->size() == 2);
  CHECK(lane->at(0).id == 2); // priority 5 first
  CHECK(lane->at(1).id == 1);
  CHECK(s->counts()["a"][static_cast<int>(task_status::pending)] == 2);

  auto got = s->get(3);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->type == "b");
  auto missing = s->get(99);
  REQUIRE(missing.ok());
  CHECK(!missing->has_value());
}

TEST_CASE("store: delayed tasks go to the schedule index, sync tasks to the sync lane") {
  temp_dir dir;
  auto s = open_store(dir);
  task sync = new_task("v");
  sync.mode = task_mode::sync;
  auto later = now_ms() + 60000;
  REQUIRE(commit(*s, create_op{{new_task("a", 0, later), sync}}).ok());
  auto sched = s->schedule_page(std::nullopt, 10);
  REQUIRE(sched.ok());
  REQUIRE(sched->size() == 1);
  CHECK(sched->at(0).run_at == later);
  CHECK(s->ready_page(task_mode::async, "a", std::nullopt, 10)->empty());
  auto lane = s->ready_page(task_mode::sync, "", std::nullopt, 10);
  REQUIRE(lane->size() == 1);
  CHECK(lane->at(0).id == 2);
}

TEST_CASE("store: transitions move index entries and are logged in order") {
  temp_dir dir;
  auto s = open_store(dir);
  REQUIRE(commit(*s, create_op{{new_task("a")}}).ok());
  auto started = commit(*s, update_op{1, [](task& t) { return start_attempt(t, now_ms()); }, true});
  REQUIRE(started.ok());
  CHECK(started->front().before == task_status::pending);
  CHECK(s->ready_page(task_mode::async, "a", std::nullopt, 10)->empty());
  auto listed = s->list({task_status::in_progress, std::nullopt, 0, 10});
  REQUIRE(listed.ok());
  CHECK(listed->tasks.size() == 1);

  auto conflict = commit(*s, update_op{1, [](task& t) { return cancel_task(t, 0); }, true});
  REQUIRE(!conflict.ok());
  CHECK(conflict.err().code == errc::conflict);

  REQUIRE(commit(*s, update_op{1, [](task& t) { return complete_attempt(t, 7, now_ms()); }, true})
              .ok());
  auto changes = s->changes_since(0, 100);
  REQUIRE(changes.ok());
  REQUIRE(changes->size() == 3);
  CHECK(changes->at(0).t.status == task_status::pending);
  CHECK(changes->at(1).t.status == task_status::in_progress);
  CHECK(changes->at(2).t.status == task_status::completed);
  CHECK(changes->at(2).seq == s->head_seq());
  CHECK(s->counts()["a"][static_cast<int>(task_status::completed)] == 1);
  CHECK(s->counts()["a"][static_cast<int>(task_status::pending)] == 0);
}

TEST_CASE("store: list filters combine and page by id") {
  temp_dir dir;
  auto s = open_store(dir);
  std::vector<task> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(new_task(i % 2 ? "odd" : "even"));
  REQUIRE(commit(*s, create_op{batch}).ok());
  REQUIRE(commit(*s, update_op{2, [](task& t) { return cancel_task(t, 1); }, true}).ok());

  auto all = s->list({std::nullopt, std::nullopt, 0, 4});
  REQUIRE(all.ok());
  CHECK(all->tasks.size() == 4);
  REQUIRE(all->next_after);
  CHECK(*all->next_after == 4);
  auto next = s->list({std::nullopt, std::nullopt, 4, 100});
  CHECK(next->tasks.size() == 6);
  CHECK(!next->next_after);

  auto odd = s->list({std::nullopt, std::string("odd"), 0, 100});
  CHECK(odd->tasks.size() == 5);
  auto odd_page = s->list({std::nullopt, std::string("odd"), 0, 2}); // across statuses, by id
  REQUIRE(odd_page->tasks.size() == 2);
  CHECK(odd_page->tasks[0].id == 2);
  CHECK(odd_page->tasks[1].id == 4);
  CHECK(odd_page->next_after == std::optional<task_id>(4));
  auto odd_pending = s->list({task_status::pending, std::string("odd"), 0, 100});
  CHECK(odd_pending->tasks.size() == 4);
  auto cancelled = s->list({task_status::cancelled, std::nullopt, 0, 100});
  REQUIRE(cancelled->tasks.size() == 1);
  CHECK(cancelled->tasks[0].id == 2);
}

TEST_CASE("store: idempotency keys return the existing task and write nothing") {
  temp_dir dir;
  auto s = open_store(dir);
  task t = new_task("a");
  t.idempotency_key = "order-1";
  auto first = commit(*s, create_op{{t}});
  REQUIRE(first.ok());
  auto head = s->head_seq();
  auto again = commit(*s, create_op{{t}});
  REQUIRE(again.ok());
  CHECK(again->front().existed);
  CHECK(again->front().after.id == first->front().after.id);
  CHECK(s->head_seq() == head);
  // Two requests with one key in the same group also create one task.
  task u = new_task("a");
  u.idempotency_key = "order-2";
  auto both = commit(*s, create_op{{u, u}});
  REQUIRE(both.ok());
  CHECK(!both->at(0).existed);
  CHECK(both->at(1).existed);
  CHECK(both->at(1).after.id == both->at(0).after.id);
}

TEST_CASE("store: a large batch's keyed tasks are found by a later batch of the same group") {
  // Tasks of a large batch are not kept in the record cache, except those with a key: a
  // later operation of the same group finds them only there (they are not written yet).
  temp_dir dir;
  auto s = open_store(dir);
  std::vector<task> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(new_task("a"));
    if (i % 2 == 0) batch.back().idempotency_key = "k" + std::to_string(i);
  }
  std::promise<void> release;
  hold_writer(*s, release.get_future().share());
  std::promise<write_result> first, second;
  s->submit(create_op{batch}, [&](write_result r) { first.set_value(std::move(r)); });
  s->submit(create_op{batch}, [&](write_result r) { second.set_value(std::move(r)); });
  release.set_value();
  auto a = first.get_future().get();
  auto b = second.get_future().get();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    CHECK(!a->at(i).existed);
    bool keyed = i % 2 == 0;
    CHECK(b->at(i).existed == keyed);
    if (keyed) CHECK(b->at(i).after.id == a->at(i).after.id);
  }
  CHECK(s->counts()["a"][0] == 150);
  // And every one of them, cached or not, moves on from what was written.
  for (auto& ch : *a)
    REQUIRE(
        commit(*s, update_op{ch.after.id, [](task& t) { return start_attempt(t, t.run_at); }, true})
            .ok());
  CHECK(s->counts()["a"][static_cast<int>(task_status::in_progress)] == 100);
}

TEST_CASE("store: index moves of a task within one group end in its last state") {
  // A group's index moves go into the batch sorted by key: moves of one key must keep
  // their order, or a task would stay listed under a status it left.
  temp_dir dir;
  auto s = open_store(dir);
  task retry_me = new_task("a");
  retry_me.max_attempts = 3;
  auto created = commit(*s, create_op{{retry_me, new_task("a")}});
  REQUIRE(created.ok());
  const task_id retried = created->at(0).after.id, deleted = created->at(1).after.id;
  std::promise<void> release;
  hold_writer(*s, release.get_future().share());
  std::vector<std::future<write_result>> results;
  auto update = [&](task_id id, std::function<status(task&)> fn) {
    auto p = std::make_shared<std::promise<write_result>>();
    results.push_back(p->get_future());
    s->submit(update_op{id, std::move(fn), true},
              [p](write_result r) { p->set_value(std::move(r)); });
  };
  update(retried, [](task& t) { return start_attempt(t, now_ms()); });
  update(retried, [](task& t) -> status {
    auto r = fail_attempt(t, "again", true, now_ms());
    return r ? ok_status() : status(r.err());
  });
  update(deleted, [](task& t) { return start_attempt(t, now_ms()); });
  update(deleted, [](task& t) { return complete_attempt(t, 1, now_ms()); });
  auto p = std::make_shared<std::promise<write_result>>();
  results.push_back(p->get_future());
  s->submit(delete_op{deleted}, [p](write_result r) { p->set_value(std::move(r)); });
  release.set_value();
  for (auto& r : results) REQUIRE(r.get().ok());

  auto listed = [&](task_status st) {
    list_filter f;
    f.type = "a"; // not the writer's holder
    f.status = st;
    auto page = s->list(f);
    REQUIRE(page.ok());
    std::vector<task_id> ids;
    for (auto& t : page->tasks) ids.push_back(t.id);
    return ids;
  };
  CHECK(listed(task_status::pending) == std::vector<task_id>{retried});
  CHECK(listed(task_status::in_progress).empty());
  CHECK(listed(task_status::completed).empty());
  CHECK(!s->get(deleted)->has_value());
  CHECK(s->get(retried)->value().status == task_status::pending);
}

TEST_CASE("store: delete removes finished tasks only, and frees the idempotency key") {
  temp_dir dir;
  auto s = open_store(dir);
  task t = new_task("a");
  t.idempotency_key = "k";
  REQUIRE(commit(*s, create_op{{t}}).ok());
  auto refused = commit(*s, delete_op{1});
  REQUIRE(!refused.ok());
  CHECK(refused.err().code == errc::conflict);
  REQUIRE(commit(*s, update_op{1, [](task& x) { return cancel_task(x, 1); }, true}).ok());
  auto deleted = commit(*s, delete_op{1});
  REQUIRE(deleted.ok());
  CHECK(deleted->front().deleted);
  CHECK(!s->get(1)->has_value());
  CHECK(s->list({std::nullopt, std::string("a"), 0, 10})->tasks.empty());
  auto changes = s->changes_since(0, 10);
  CHECK(changes->back().deleted);
  auto reused = commit(*s, create_op{{t}});
  REQUIRE(reused.ok());
  CHECK(!reused->front().existed);
  CHECK(reused->front().after.id == 2); // ids are never reused
  CHECK(commit(*s, delete_op{42}).err().code == errc::not_found);
}

TEST_CASE("store: reopen keeps tasks, counters, ids and the change log") {
  temp_dir dir;
  std::uint64_t head = 0;
  {
    auto s = open_store(dir);
    REQUIRE(commit(*s, create_op{{new_task("a"), new_task("a")}}).ok());
    REQUIRE(
        commit(*s, update_op{1, [](task& t) { return start_attempt(t, t.run_at); }, true}).ok());
    head = s->head_seq();
  }
  auto s = open_store(dir);
  CHECK(s->head_seq() == head);
  CHECK(s->counts()["a"][static_cast<int>(task_status::in_progress)] == 1);
  CHECK(s->counts()["a"][static_cast<int>(task_status::pending)] == 1);
  auto stuck = s->tasks_with_status(task_status::in_progress, SIZE_MAX);
  REQUIRE(stuck.ok());
  REQUIRE(stuck->size() == 1);
  CHECK(stuck->front().id == 1);
  auto r = commit(*s, create_op{{new_task("a")}});
  REQUIRE(r.ok());
  CHECK(r->front().after.id == 3);
}

TEST_CASE("store: many concurrent submitters share commits and all get answers") {
  temp_dir dir;
  auto s = open_store(dir);
  constexpr int n = 2000;
  std::vector<std::promise<write_result>> promises(n);
  for (int i = 0; i < n; ++i)
    s->submit(create_op{{new_task("a")}},
              [&promises, i](write_result r) { promises[i].set_value(std::move(r)); });
  std::set<task_id> ids;
  for (auto& p : promises) {
    auto r = p.get_future().get();
    REQUIRE(r.ok());
    ids.insert(r->front().after.id);
  }
  CHECK(ids.size() == n);
  CHECK(s->counts()["a"][0] == n);
}

TEST_CASE("store: a shared result reaches both its callbacks uncopied, beside plain ones") {
  // An HTTP batch create prepares its answer from the applied result while it syncs: the
  // durable callback must get that very object, and the group's other results must still
  // move to their own callbacks.
  temp_dir dir;
  auto s = open_store(dir);
  std::promise<void> release;
  hold_writer(*s, release.get_future().share()); // the next two submits share a group
  std::promise<shared_write_result> applied, durable;
  std::promise<write_result> plain;
  std::atomic<bool> was_applied{false}, applied_first{false};
  auto applied_result = applied.get_future();
  s->submit_shared(
      create_op{{new_task("b"), new_task("b")}},
      [&](shared_write_result r) {
        applied_first = was_applied.load();
        durable.set_value(std::move(r));
      },
      [&](shared_write_result r) {
        was_applied = true;
        applied.set_value(std::move(r));
      });
  s->submit(create_op{{new_task("c")}}, [&](write_result r) { plain.set_value(std::move(r)); });
  release.set_value();

  auto early = applied_result.get();
  auto late = durable.get_future().get();
  CHECK(applied_first);
  CHECK(early.get() == late.get());
  REQUIRE(late->ok());
  CHECK(ids_of(**late) == std::vector<task_id>{2, 3});
  auto other = plain.get_future().get();
  REQUIRE(other.ok());
  CHECK(ids_of(*other) == std::vector<task_id>{4});
  CHECK(other->front().after.type == "c");

  s->close();
  std::promise<shared_write_result> refused;
  s->submit_shared(
      create_op{{new_task("d")}}, [&](shared_write_result r) { refused.set_value(std::move(r)); },
      [](shared_write_result) { FAIL("a refused write is never applied"); });
  auto r = refused.get_future().get();
  REQUIRE(!r->ok());
  CHECK(r->err().code == errc::shutting_down);
}

TEST_CASE("store: updates of records read ahead of the writer never apply to a stale copy") {
  // Records are read ahead for updates the writer's cache lacks. With a cache of a few
  // records, most updates find their record evicted and a copy read ahead, possibly before
  // the writes queued ahead of them: a stale copy would lose increments.
  temp_dir dir;
  store_options o;
  o.path = dir.path.string();
  o.record_cache_bytes = record_cache::cost_of(300) * 3;
  constexpr int tasks = 16, threads = 4, per_thread = 1500;
  {
    auto s = store::open(o);
    REQUIRE(s.ok());
    std::vector<task> batch(tasks, new_task("a"));
    REQUIRE(commit(**s, create_op{batch}).ok());
  }
  auto opened = store::open(o); // an empty cache: every record is read from RocksDB first
  REQUIRE(opened.ok());
  auto& s = **opened;
  std::vector<std::promise<write_result>> answers(threads * per_thread);
  std::vector<std::thread> submitters;
  for (int th = 0; th < threads; ++th)
    submitters.emplace_back([&, th] {
      for (int i = 0; i < per_thread; ++i) {
        const int n = th * per_thread + i;
        const task_id id = 1 + static_cast<task_id>((n * 7 + th) % tasks);
        s.submit(update_op{id,
                           [](task& t) {
                             ++t.attempts;
                             return ok_status();
                           },
                           true},
                 [&answers, n](write_result r) { answers[n].set_value(std::move(r)); });
      }
    });
  for (auto& t : submitters) t.join();
  for (auto& a : answers) REQUIRE(a.get_future().get().ok());
  std::vector<int> expected(tasks + 1, 0);
  for (int th = 0; th < threads; ++th)
    for (int i = 0; i < per_thread; ++i) ++expected[1 + ((th * per_thread + i) * 7 + th) % tasks];
  for (task_id id = 1; id <= tasks; ++id) {
    auto t = s.get(id);
    REQUIRE(t.ok());
    REQUIRE(t->has_value());
    CHECK((*t)->attempts == expected[id]);
  }
}

TEST_CASE("store: the change log is trimmed to its retention") {
  temp_dir dir;
  store_options o;
  o.path = dir.path.string();
  o.change_log_retention = 10;
  auto opened = store::open(o);
  REQUIRE(opened.ok());
  auto s = std::move(*opened);
  for (int i = 0; i < 1200; ++i) REQUIRE(commit(*s, create_op{{new_task("a")}}).ok());
  CHECK(s->oldest_seq() > 1);
  auto changes = s->changes_since(0, 5000);
  REQUIRE(changes.ok());
  CHECK(changes->size() < 1200);
  CHECK(changes->back().seq == s->head_seq());
}

TEST_CASE("store: a mirror's hold keeps the change log until its cursor moves") {
  temp_dir dir;
  store_options o;
  o.path = dir.path.string();
  o.change_log_retention = 10;
  {
    auto opened = store::open(o);
    REQUIRE(opened.ok());
    auto s = std::move(*opened);
    auto none = s->stored_cursor("postgres");
    REQUIRE(none.ok());
    CHECK(!none->has_value());
    s->hold_changes("postgres", 0);
    for (int i = 0; i < 1200; ++i) REQUIRE(commit(*s, create_op{{new_task("a")}}).ok());
    CHECK(s->oldest_seq() == 1); // held: nothing trimmed past the retention window
    REQUIRE(commit(*s, cursor_op{"postgres", 1100}).ok());
    for (int i = 0; i < 1200; ++i) REQUIRE(commit(*s, create_op{{new_task("a")}}).ok());
    CHECK(s->oldest_seq() > 1);
    CHECK(s->oldest_seq() <= 1101); // everything the mirror has not applied is still there
    auto changes = s->changes_since(1100, 1);
    REQUIRE(changes.ok());
    REQUIRE(changes->size() == 1);
    CHECK(changes->front().seq == 1101);
  }
  auto reopened = store::open(o);
  REQUIRE(reopened.ok());
  auto stored = (*reopened)->stored_cursor("postgres");
  REQUIRE(stored.ok());
  CHECK(stored->value_or(0) == 1100);
}

TEST_CASE("store: tasks with the seq of their last change, for a mirror's resync") {
  temp_dir dir;
  auto s = open_store(dir);
  auto created = commit(*s, create_op{{new_task("a"), new_task("a"), new_task("b")}});
  REQUIRE(created.ok());
  auto first = created->at(0).after.id;
  auto moved = commit(*s, update_op{first, [](task& t) {
                                      t.priority = 5;
                                      return ok_status();
                                    }});
  REQUIRE(moved.ok());
  auto all = s->tasks_with_last_seq(0, 10);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK(all->at(0).t.id == first);
  CHECK(all->at(0).t.priority == 5);
  CHECK(all->at(0).seq == moved->front().seq);
  CHECK(all->at(1).seq == created->at(1).seq);
  CHECK(all->at(2).seq == created->at(2).seq);
  auto rest = s->tasks_with_last_seq(all->at(0).t.id, 1);
  REQUIRE(rest.ok());
  REQUIRE(rest->size() == 1);
  CHECK(rest->front().t.id == all->at(1).t.id);
}

TEST_CASE("store: submits after close fail cleanly") {
  temp_dir dir;
  auto s = open_store(dir);
  s->close();
  auto r = commit(*s, create_op{{new_task("a")}});
  REQUIRE(!r.ok());
  CHECK(r.err().code == errc::shutting_down);
}

namespace {
/// Creates n tasks and drives each to `end` (completed or cancelled).
void make_finished(store& s, int n, bool complete) {
  std::vector<task> batch;
  for (int i = 0; i < n; ++i) batch.push_back(new_task("a"));
  auto created = commit(s, create_op{batch});
  REQUIRE(created.ok());
  for (auto& ch : *created) {
    task_id id = ch.after.id;
    if (complete) {
      REQUIRE(
          commit(s, update_op{id, [](task& t) { return start_attempt(t, t.run_at); }, true}).ok());
      REQUIRE(
          commit(s, update_op{id, [](task& t) { return complete_attempt(t, 1, now_ms()); }, true})
              .ok());
    } else {
      REQUIRE(
          commit(s, update_op{id, [](task& t) { return cancel_task(t, now_ms()); }, true}).ok());
    }
  }
}
} // namespace

TEST_CASE("store: pruning by age deletes finished tasks oldest first, in batches") {
  temp_dir dir;
  auto s = open_store(dir);
  make_finished(*s, 7, true);
  make_finished(*s, 2, false);
  REQUIRE(commit(*s, create_op{{new_task("a")}}).ok()); // pending: never pruned

  prune_op op;
  op.status = task_status::completed;
  op.finished_before = now_ms() + 1000;
  op.limit = 5;
  auto first = commit(*s, op);
  REQUIRE(first.ok());
  CHECK(first->size() == 5);
  CHECK(first->front().deleted);
  CHECK(first->front().after.id == 1);
  auto second = commit(*s, op);
  REQUIRE(second.ok());
  CHECK(second->size() == 2);
  CHECK(commit(*s, op)->empty());
  CHECK(s->counts()["a"][static_cast<int>(task_status::completed)] == 0);
  CHECK(s->list({task_status::completed, std::nullopt, 0, 100})->tasks.empty());
  CHECK(s->list({task_status::cancelled, std::nullopt, 0, 100})->tasks.size() == 2);
  CHECK(s->list({task_status::pending, std::nullopt, 0, 100})->tasks.size() == 1);
  CHECK(s->changes_since(0, 10000)->back().deleted);

  op.finished_before = 0; // nothing is old enough
  op.status = task_status::cancelled;
  CHECK(commit(*s, op)->empty());
}

TEST_CASE("store: pruning by count keeps the newest max tasks") {
  temp_dir dir;
  auto s = open_store(dir);
  make_finished(*s, 6, true);
  prune_op op;
  op.status = task_status::completed;
  op.keep_max = 4;
  auto r = commit(*s, op);
  REQUIRE(r.ok());
  REQUIRE(r->size() == 2);
  CHECK(r->at(0).after.id == 1);
  CHECK(r->at(1).after.id == 2);
  auto left = s->list({task_status::completed, std::nullopt, 0, 100});
  CHECK(left->tasks.size() == 4);
  CHECK(left->tasks.front().id == 3);
}

TEST_CASE("store: a retried task leaves the finished index") {
  temp_dir dir;
  auto s = open_store(dir);
  task t = new_task("a");
  t.max_attempts = 1;
  REQUIRE(commit(*s, create_op{{t}}).ok());
  REQUIRE(commit(*s, update_op{1, [](task& x) { return start_attempt(x, x.run_at); }, true}).ok());
  REQUIRE(commit(*s, update_op{1,
                               [](task& x) -> status {
                                 auto r = fail_attempt(x, "e", true, 2);
                                 if (!r) return r.err();
                                 return ok_status();
                               },
                               true})
              .ok());
  REQUIRE(commit(*s, update_op{1, [](task& x) { return retry_task(x, 3); }, true}).ok());
  prune_op op;
  op.status = task_status::failed;
  op.finished_before = now_ms() + 1000;
  CHECK(commit(*s, op)->empty());
  CHECK(s->get(1)->has_value());
}

TEST_CASE("store: promote moves due tasks to the ready index in batches, earliest first") {
  temp_dir dir;
  auto s = open_store(dir);
  millis soon = now_ms() + 150;
  std::vector<task> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(new_task("a", 0, soon + (5 - i)));
  batch.push_back(new_task("a", 0, now_ms() + 3600000)); // not due
  REQUIRE(commit(*s, create_op{batch}).ok());
  CHECK(commit(*s, promote_op{10})->empty()); // nothing due yet
  while (now_ms() <= soon + 5) {
    // Deliberate wait for wall-clock time to pass run_at (a clock, not a condition).
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto first = commit(*s, promote_op{3});
  REQUIRE(first.ok());
  REQUIRE(first->size() == 3);
  CHECK(first->at(0).after.id == 5); // earliest run_at first
  CHECK(first->at(2).after.id == 3);
  auto rest = commit(*s, promote_op{3});
  REQUIRE(rest->size() == 2);
  CHECK(commit(*s, promote_op{3})->empty());
  auto ready = s->ready_page(task_mode::async, "a", std::nullopt, 10);
  CHECK(ready->size() == 5);
  CHECK(s->schedule_page(std::nullopt, 10)->size() == 1);
  CHECK(s->changes_since(0, 100)->size() == 6); // promotion is not logged
}

TEST_CASE("store: index pages start strictly after a given key") {
  temp_dir dir;
  auto s = open_store(dir);
  std::vector<task> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(new_task("a"));
  millis later = now_ms() + 3600000;
  for (int i = 0; i < 3; ++i) batch.push_back(new_task("a", 0, later + i));
  REQUIRE(commit(*s, create_op{batch}).ok());
  auto page = s->ready_page(task_mode::async, "a", ready_entry{0, 2}, 2);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK(page->at(0).id == 3);
  CHECK(page->at(1).id == 4);
  auto sched = s->schedule_page(scheduled_entry{later, 6}, 10);
  REQUIRE(sched->size() == 2);
  CHECK(sched->at(0).id == 7);
}

TEST_CASE("store: tasks that were never delayed leave nothing in the schedule index") {
  // Schedule keys only grow: a tombstone there for a task that went straight to ready
  // would end up in a table file that no compaction ever merges (found by the soak).
  temp_dir dir;
  {
    auto s = open_store(dir);
    make_finished(*s, 50, true);
    make_finished(*s, 50, false);
    s->close(); // flushes every memtable to table files
    CHECK(s->table_files().at("schedule") == 0);
    CHECK(s->table_files().at("tasks") > 0);
  }
  // A delayed task still leaves the schedule index when it runs or is cancelled.
  auto s = open_store(dir);
  auto r = commit(*s, create_op{{new_task("a", 0, now_ms() + 3'600'000)}});
  REQUIRE(r.ok());
  task_id id = r->front().after.id;
  REQUIRE(s->schedule_page(std::nullopt, 10)->size() == 1);
  REQUIRE(commit(*s, update_op{id, [](task& t) { return cancel_task(t, now_ms()); }, true}).ok());
  CHECK(s->schedule_page(std::nullopt, 10)->empty());
}

TEST_CASE("store: a writer with nothing else to write syncs its group itself") {
  // A lone operation is acknowledged from the writer's thread, without waking the syncer:
  // the hand-over cost as much as a third of a sync.
  temp_dir dir;
  auto s = open_store(dir);
  std::promise<std::thread::id> applied_on, answered_on;
  s->submit(
      create_op{{new_task("a")}},
      [&](write_result) { answered_on.set_value(std::this_thread::get_id()); },
      [&](write_result) { applied_on.set_value(std::this_thread::get_id()); });
  auto writer = applied_on.get_future().get();
  CHECK(answered_on.get_future().get() == writer);
  CHECK(s->head_seq() == 1);
}

TEST_CASE("store: the change log is read only up to what is durable; callbacks keep order") {
  // The writer writes the next group while the syncer still delivers the last one: the
  // new task can be read, but neither its change (mirrors and the event stream must never
  // see what a crash could take back) nor its acknowledgement comes before the sync.
  temp_dir dir;
  auto s = open_store(dir);
  std::promise<void> first_entered, release_first;
  auto release = release_first.get_future().share();
  std::promise<void> second_done;
  // Something (that logs no change) is submitted while the first is applied, so the
  // writer has more to write and leaves the first's sync to the syncer: an idle writer
  // syncs itself.
  s->submit(
      create_op{{new_task("a")}},
      [&](write_result r) {
        CHECK(r.ok());
        first_entered.set_value();
        release.wait(); // the syncer is busy here until the test releases it
      },
      [&](write_result) {
        s->submit(cursor_op{"test", 0}, [](write_result r) { CHECK(r.ok()); });
      });
  first_entered.get_future().wait();
  s->submit(create_op{{new_task("a")}}, [&](write_result r) {
    CHECK(r.ok());
    second_done.set_value();
  });
  auto second = second_done.get_future();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!s->get(2)->has_value() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  REQUIRE(s->get(2)->has_value()); // written and readable ...
  CHECK(s->head_seq() == 1);       // ... but not durable yet
  auto log = s->changes_since(0, 100);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 1);
  CHECK(log->front().t.id == 1);
  CHECK(second.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);

  release_first.set_value();
  REQUIRE(second.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(s->head_seq() == 2);
  CHECK(s->changes_since(0, 100)->size() == 2);
}
