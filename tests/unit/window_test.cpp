#include <doctest/doctest.h>

#include "src/core/window.hpp"
#include "storage/store.hpp"

using namespace taskd;

TEST_CASE("window: complete window keeps dispatch order") {
  bounded_window<ready_entry> w(8);
  w.offer({0, 3});
  w.offer({5, 9});
  w.offer({0, 1});
  REQUIRE(w.size() == 3);
  CHECK(w.pop_front().id == 9); // higher priority first
  CHECK(w.pop_front().id == 1); // then FIFO
  CHECK(w.pop_front().id == 3);
  CHECK(w.empty());
  CHECK(!w.wants_refill());
}

TEST_CASE("window: overflow evicts the tail and asks for a refill when low") {
  bounded_window<ready_entry> w(4);
  for (task_id id = 1; id <= 6; ++id) w.offer({0, id});
  CHECK(w.size() == 4);
  // Incomplete now: a key beyond the window stays on disk only.
  w.offer({0, 7});
  CHECK(w.size() == 4);
  // A key that sorts before the tail is taken.
  w.offer({1, 8});
  CHECK(w.front().id == 8);
  while (w.size() > 1) w.pop_front();
  CHECK(w.wants_refill());
  w.begin_refill();
  CHECK(!w.wants_refill());
  w.offer({0, 9}); // committed during the read: held, then applied
  std::vector<ready_entry> page = {{0, 3}, {0, 4}, {0, 5}, {0, 6}};
  w.finish_refill(page, false, [](const ready_entry& e) { return e.id == 4; }); // 4 is running
  std::vector<task_id> got;
  while (!w.empty()) got.push_back(w.pop_front().id);
  CHECK(got == std::vector<task_id>{3, 5, 6});
}

TEST_CASE("window: a last page makes the window complete again") {
  bounded_window<scheduled_entry> w(4);
  w.mark_incomplete();
  CHECK(w.wants_refill());
  w.begin_refill();
  w.finish_refill(std::vector<scheduled_entry>{{100, 1}}, true, [](auto&) { return false; });
  CHECK(!w.wants_refill());
  w.offer({50, 2});
  w.offer({500, 3});
  CHECK(w.size() == 3);
  CHECK(w.pop_front().run_at == 50);
}

TEST_CASE("window: pages continue after the bound; keys at or below it are offered in") {
  bounded_window<ready_entry> w(4);
  w.mark_incomplete();
  CHECK(!w.refill_after());
  w.begin_refill();
  w.finish_refill(std::vector<ready_entry>{{0, 1}, {0, 2}, {0, 3}, {0, 4}}, false,
                  [](auto&) { return false; });
  REQUIRE(w.refill_after());
  CHECK(w.refill_after()->id == 4);
  while (!w.empty()) w.pop_front();
  w.offer({0, 2});  // back to pending (a retry): covered by the bound, so held in memory
  w.offer({0, 10}); // beyond the bound: found by the next page
  CHECK(w.size() == 1);
  CHECK(w.front().id == 2);
  CHECK(w.wants_refill());
}
