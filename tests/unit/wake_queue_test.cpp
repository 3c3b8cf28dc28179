#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "src/core/wake_queue.hpp"

using namespace taskd;

TEST_CASE("wake_queue: only the first push after a take asks for a wake-up") {
  wake_queue<int> q;
  CHECK(q.push(1));
  CHECK_FALSE(q.push(2));
  CHECK_FALSE(q.push(3));
  CHECK(q.take() == std::vector<int>{1, 2, 3});
  CHECK(q.take().empty());
  CHECK(q.push(4)); // idle again
  CHECK(q.take() == std::vector<int>{4});
}

TEST_CASE("wake_queue: concurrent producers lose nothing and keep each one's order") {
  wake_queue<std::pair<int, int>> q;
  constexpr int producers = 4, per_producer = 20000;
  std::vector<std::thread> threads;
  std::atomic<int> wakes{0};
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i)
        if (q.push({p, i})) wakes.fetch_add(1);
    });
  std::vector<int> next(producers, 0);
  int taken = 0, takes = 0;
  auto drain = [&] {
    auto items = q.take();
    if (items.empty()) return std::this_thread::yield();
    ++takes;
    for (auto [p, i] : items) {
      CHECK(i == next[static_cast<std::size_t>(p)]);
      next[static_cast<std::size_t>(p)] = i + 1;
      ++taken;
    }
  };
  while (taken < producers * per_producer) drain();
  for (auto& t : threads) t.join();
  drain();
  CHECK(taken == producers * per_producer);
  // A wake-up is asked for only by the first push after a take that found items (the
  // consumer here polls instead of waiting for them).
  CHECK(wakes.load() >= 1);
  CHECK(wakes.load() <= takes + 1);
}
