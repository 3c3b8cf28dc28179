#include <doctest/doctest.h>

#include "storage/record_cache.hpp"

using namespace taskd;

namespace {
task with_id(task_id id, std::int32_t attempts = 0) {
  task t;
  t.id = id;
  t.attempts = attempts;
  return t;
}
} // namespace

TEST_CASE("record_cache: keeps the newest state of each record") {
  record_cache c(1 << 20);
  c.put(with_id(1), 100, 1);
  c.put(with_id(1, 2), 120, 1);
  REQUIRE(c.find(1) != nullptr);
  CHECK(c.find(1)->attempts == 2);
  CHECK(c.size() == 1);
  CHECK(c.bytes() == record_cache::cost_of(120));
  CHECK(c.find(2) == nullptr);
  c.erase(1, 1);
  CHECK(c.find(1) == nullptr);
  CHECK(c.bytes() == 0);
}

TEST_CASE("record_cache: stays within its memory budget, oldest dropped first") {
  const std::size_t budget = 10 * record_cache::cost_of(100);
  record_cache c(budget);
  for (task_id id = 1; id <= 20; ++id) c.put(with_id(id), 100, id);
  CHECK(c.bytes() <= budget);
  CHECK(c.size() == 10);
  CHECK(c.find(10) == nullptr);
  CHECK(c.find(11) != nullptr);
  CHECK(c.find(20) != nullptr);
  c.put(with_id(99), budget, 1); // larger than the budget: not kept
  CHECK(c.find(99) == nullptr);
  CHECK(c.bytes() <= budget);
}

TEST_CASE("record_cache: records put and erased again leave nothing behind") {
  record_cache c(1 << 20);
  for (task_id id = 1; id <= 100000; ++id) {
    c.put(with_id(id), 10, 1);
    c.erase(id, 1);
  }
  CHECK(c.size() == 0);
  CHECK(c.bytes() == 0);
  // A live record survives the churn of others as long as the budget allows.
  c.put(with_id(7), 10, 1);
  for (task_id id = 1000000; id < 1000100; ++id) {
    c.put(with_id(id), 10, 1);
    c.erase(id, 1);
  }
  CHECK(c.find(7) != nullptr);
}

TEST_CASE("record_cache: evicted_through is the newest write it no longer holds") {
  const std::size_t budget = 3 * record_cache::cost_of(100);
  record_cache c(budget);
  CHECK(c.evicted_through() == 0);
  c.put(with_id(1), 100, 10);
  c.put(with_id(2), 100, 11);
  c.put(with_id(3), 100, 12);
  CHECK(c.evicted_through() == 0);
  c.put(with_id(1), 100, 20); // rewritten: its newest write counts when it goes
  c.put(with_id(4), 100, 21); // drops 1, the first cached
  CHECK_FALSE(c.contains(1));
  CHECK(c.evicted_through() == 20);
  c.put(with_id(5), 100, 22); // drops 2, written before that
  CHECK(c.evicted_through() == 20);
  c.erase(4, 30); // a delete is a write the cache no longer holds
  CHECK(c.evicted_through() == 30);
  c.put(with_id(6), budget, 31); // too large to keep: as good as evicted
  CHECK(c.evicted_through() == 31);
  CHECK(c.contains(3));
  CHECK(c.contains(5));
}
