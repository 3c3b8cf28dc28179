// The store's support for the event stream and administration: timelines, pause state,
// batch transitions, newest-first listing and the change listener.

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <future>

#include <rocksdb/db.h>

#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"
#include "storage/keys.hpp"
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

TEST_CASE("store: a timeline keeps the newest changes of a task that changes often") {
  temp_dir dir;
  auto s = open_store(dir);
  auto id = create(*s, "a");
  const auto first = s->head_seq();
  for (std::size_t i = 0; i < task_timeline_max + 5; ++i)
    transition(*s, id, [](task& t) {
      t.progress = t.progress.value_or(0) + 1;
      return ok_status();
    });
  auto rec = s->get(id);
  REQUIRE(rec.ok());
  REQUIRE(rec->has_value());
  auto& seqs = (*rec)->change_seqs;
  REQUIRE(seqs.size() == task_timeline_max);
  CHECK(seqs.back() == s->head_seq());
  CHECK(seqs.front() == first + 6); // the create and the first five updates dropped
  auto tl = s->task_changes(id, 10);
  REQUIRE(tl.ok());
  REQUIRE(tl->size() == 10);
  CHECK((*tl)[0].seq == seqs.front());
}

namespace {

/// Opens the store's RocksDB directly (the store closed), for what only an earlier version
/// wrote. Handles: 1 tasks, 4 the listing index.
void with_raw_db(
    const temp_dir& dir,
    const std::function<void(rocksdb::DB&, std::vector<rocksdb::ColumnFamilyHandle*>&)>& fn) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name :
       {"default", "tasks", "ready", "schedule", "index", "changes", "idempotency", "finished"})
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* raw = nullptr;
  REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), dir.path.string(), cfs, &h, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  fn(*db, h);
  for (auto* cf : h) REQUIRE(db->DestroyColumnFamilyHandle(cf).ok());
}

std::string be64(std::uint64_t v) {
  std::string out;
  keys::put_u64(out, v);
  return out;
}

} // namespace

TEST_CASE("store: a data directory of an earlier version is upgraded when it opens") {
  temp_dir dir;
  task_id id = 0, other = 0;
  std::vector<std::uint64_t> seqs;
  {
    auto s = open_store(dir);
    id = create(*s, "a");
    other = create(*s, "b");
    transition(*s, id, [](task& t) { return start_attempt(t, now_ms()); });
    seqs = (*s->get(id))->change_seqs;
    REQUIRE(seqs.size() == 2);
  }
  // As the earlier version kept it: timelines and a type index in the listing index
  // ('c' id seq, 't' type 0 id), records without their seqs.
  with_raw_db(dir, [&](rocksdb::DB& db, auto& h) {
    const std::string timeline(1, keys::retired_timeline_tag), by_type(1, keys::retired_type_tag);
    for (auto seq : seqs) REQUIRE(db.Put({}, h[4], timeline + be64(id) + be64(seq), "").ok());
    REQUIRE(db.Put({}, h[4], timeline + be64(999) + be64(1), "").ok()); // a deleted task's
    REQUIRE(db.Put({}, h[4], by_type + std::string("a\0", 2) + be64(id), "").ok());
    for (task_id t : {id, other}) {
      std::string v;
      REQUIRE(db.Get({}, h[1], keys::task_key(t), &v).ok());
      auto rec = decode_task(v);
      REQUIRE(rec);
      rec->change_seqs.clear();
      REQUIRE(db.Put({}, h[1], keys::task_key(t), encode_task(*rec)).ok());
    }
  });
  {
    auto s = open_store(dir);
    auto rec = s->get(id);
    REQUIRE(rec.ok());
    CHECK((*rec)->change_seqs == seqs);
    CHECK((*s->get(other))->change_seqs.empty()); // no timeline keys: none to move
    auto tl = s->task_changes(id, 100);
    REQUIRE(tl->size() == 2);
    CHECK((*tl)[1].t.status == task_status::in_progress);
    CHECK(s->list({std::nullopt, std::string("a"), 0, 100})->tasks.size() == 1);
  }
  // The retired keys are gone: the index holds one (type, status) key a task.
  with_raw_db(dir, [&](rocksdb::DB& db, auto& h) {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, h[4]));
    std::size_t keys = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++keys) CHECK(it->key()[0] == 'u');
    CHECK(keys == 2);
  });
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
