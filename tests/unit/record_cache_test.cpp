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
  c.put(with_id(1), 100);
  c.put(with_id(1, 2), 120);
  REQUIRE(c.find(1) != nullptr);
  CHECK(c.find(1)->attempts == 2);
  CHECK(c.size() == 1);
  CHECK(c.bytes() == record_cache::cost_of(120));
  CHECK(c.find(2) == nullptr);
  c.erase(1);
  CHECK(c.find(1) == nullptr);
  CHECK(c.bytes() == 0);
}

TEST_CASE("record_cache: stays within its memory budget, oldest dropped first") {
  const std::size_t budget = 10 * record_cache::cost_of(100);
  record_cache c(budget);
  for (task_id id = 1; id <= 20; ++id) c.put(with_id(id), 100);
  CHECK(c.bytes() <= budget);
  CHECK(c.size() == 10);
  CHECK(c.find(10) == nullptr);
  CHECK(c.find(11) != nullptr);
  CHECK(c.find(20) != nullptr);
  c.put(with_id(99), budget); // larger than the budget: not kept
  CHECK(c.find(99) == nullptr);
  CHECK(c.bytes() <= budget);
}

TEST_CASE("record_cache: records put and erased again leave nothing behind") {
  record_cache c(1 << 20);
  for (task_id id = 1; id <= 100000; ++id) {
    c.put(with_id(id), 10);
    c.erase(id);
  }
  CHECK(c.size() == 0);
  CHECK(c.bytes() == 0);
  // A live record survives the churn of others as long as the budget allows.
  c.put(with_id(7), 10);
  for (task_id id = 1000000; id < 1000100; ++id) {
    c.put(with_id(id), 10);
    c.erase(id);
  }
  CHECK(c.find(7) != nullptr);
}
