// Hostile load on the HTTP server: thousands of idle connections held open, oversized
// headers, and a flood of requests from several clients at once. Other clients keep
// being served, and taskd's memory stays bounded.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

TEST_CASE("flood: 2,500 idle connections and a request flood; others are served, memory bounded") {
  taskd_process t(config_with("[types.echo]\nhandler = \"builtin:echo\"\n", "",
                              "max_connections = 3000\nrequest_timeout_ms = 60000"));
  auto c = t.client();
  REQUIRE(c.post("/api/v1/tasks", json::object{{"type", "echo"}}).status == 201);
  const auto rss_before = rss_kib(t.pid());

  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 2500; ++i) {
    idle.push_back(std::make_unique<raw_connection>(t.port()));
    REQUIRE(idle.back()->connected());
  }
  // Half of them start a request and stall mid-headers.
  for (std::size_t i = 0; i < idle.size(); i += 2)
    REQUIRE(idle[i]->send("GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\n"));

  // Headers over the limit get 431, not a crash or a hang.
  auto big = raw_exchange(t.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                        std::string(64 * 1024, 'h') + "\r\n\r\n");
  CHECK_MESSAGE(big.rfind("HTTP/1.1 431", 0) == 0, big.substr(0, 200));

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> flood_requests{0}, flood_errors{0};
  std::atomic<int> flooding{4};
  std::vector<std::thread> flooders;
  for (int f = 0; f < 4; ++f)
    flooders.emplace_back([&, f] {
      auto fc = t.client(10s);
      for (int i = 0; !stop && i < 2500; ++i) {
        auto r = i % 2 ? fc.get("/api/v1/tasks?limit=50")
                       : fc.post("/api/v1/tasks", json::object{{"type", "echo"}, {"payload", f}});
        flood_requests += 1;
        if (r.status != 200 && r.status != 201) flood_errors += 1;
      }
      flooding -= 1;
    });
  // A well-behaved client during the flood: every request answered, none slow.
  std::int64_t slowest_ms = 0;
  auto probe = t.client(10s);
  const auto flood_start = std::chrono::steady_clock::now();
  while (flooding > 0 && std::chrono::steady_clock::now() - flood_start < 60s) {
    auto start = std::chrono::steady_clock::now();
    auto r = probe.get("/api/v1/types");
    slowest_ms =
        std::max<std::int64_t>(slowest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - start)
                                               .count());
    CHECK(r.status == 200);
  }
  stop = true;
  for (auto& th : flooders) th.join();
  const auto rss_after = rss_kib(t.pid());
  MESSAGE("held ", idle.size(), " idle connections; flood of ", flood_requests.load(),
          " requests (", flood_errors.load(), " errors); slowest probe ", slowest_ms, " ms; RSS ",
          rss_before / 1024, " -> ", rss_after / 1024, " MB");
  CHECK(flood_errors == 0);
  CHECK(slowest_ms < 5000);
  // A few KB per connection and the tasks created: far under 200 MB more.
  CHECK(rss_after < rss_before + 200 * 1024);
  idle.clear();
  CHECK(c.get("/healthz").status == 200);
  CHECK(t.running());
}
