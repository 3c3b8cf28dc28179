// GET /metrics against a real taskd: counters follow the lifecycle (including recovery
// after kill -9), backpressure and HTTP requests are counted, gauges are exact.

#include <doctest/doctest.h>

#include <regex>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string metric_types = R"(
[types.echo]
handler = "builtin:echo"

[types.flaky]
handler = "builtin:fail"
max_attempts = 2
backoff = { type = "fixed", delay_ms = 10 }

[types.slow]
handler = "builtin:sleep"
max_attempts = 2
)";

std::string scrape(http_client& c) {
  auto r = c.get("/metrics");
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(r.header("content-type").find("text/plain") == 0);
  return "\n" + r.body;
}

using expected_series = std::vector<std::pair<std::string, double>>;

/// A GET shows a transition once it is written; the counters move once it is synced, a
/// moment later. Scrapes until every series has its expected value (or the deadline),
/// then checks each, so a wrong count still fails and names its series.
std::string scrape_until(http_client& c, const expected_series& want) {
  std::string m;
  bool all = poll_until(
      [&] {
        m = scrape(c);
        for (const auto& [series, value] : want)
          if (metric(m, series) != value) return false;
        return true;
      },
      10s);
  for (const auto& [series, value] : want) CHECK_MESSAGE(metric(m, series) == value, series);
  CHECK(all);
  return m;
}

} // namespace

TEST_CASE("metrics: lifecycle counters, gauges and request histograms") {
  taskd_process d(config_with(metric_types));
  auto c = d.client();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(id_of(create_task(c, json::object{{"type", "echo"}})));
  auto f = create_task(c, json::object{{"type", "flaky"}, {"payload", {{"message", "no"}}}});
  for (auto id : ids) wait_terminal(c, id, 10s);
  wait_terminal(c, id_of(f), 10s);
  auto m = scrape_until(c, {{R"(taskd_tasks_created_total{type="echo"})", 3},
                            {R"(taskd_tasks_completed_total{type="echo"})", 3},
                            {R"(taskd_tasks_failed_total{type="flaky"})", 1},
                            {R"(taskd_attempts_failed_total{type="flaky"})", 2},
                            {R"(taskd_tasks_retried_total{type="flaky"})", 1},
                            {R"(taskd_tasks{status="completed",type="echo"})", 3},
                            {R"(taskd_tasks{status="failed",type="flaky"})", 1},
                            {R"(taskd_task_run_seconds_count{type="echo"})", 3},
                            {R"(taskd_task_wait_seconds_count{type="flaky"})", 2},
                            {R"(taskd_type_concurrency{type="echo"})", 8},
                            {"taskd_change_log_head_sequence", 14}}); // 3 x 3 + 5 for flaky
  CHECK(metric(m, "taskd_store_commit_seconds_count") > 0);
  CHECK(metric(m, "taskd_storage_size_bytes") > 0);
  CHECK(metric(m, "process_resident_memory_bytes") > 1e6);
  CHECK(metric(m, "process_open_fds") > 3);
  CHECK(
      metric(
          m,
          R"(taskd_http_request_duration_seconds_count{code="201",method="POST",route="/api/v1/tasks"})") ==
      4);
  CHECK(m.find(R"(route="/api/v1/tasks/{id}")") != std::string::npos);
  // Manual retry and cancel.
  REQUIRE(c.post("/api/v1/tasks/" + std::to_string(id_of(f)) + "/retry", json::object{}).status ==
          200);
  auto later = create_task(c, json::object{{"type", "echo"}, {"delay_ms", 3600000}});
  REQUIRE(
      c.post("/api/v1/tasks/" + std::to_string(id_of(later)) + "/cancel", json::object{}).status ==
      200);
  wait_terminal(c, id_of(f), 10s);
  scrape_until(c, {{R"(taskd_tasks_retried_total{type="flaky"})", 3}, // + request, + backoff
                   {R"(taskd_tasks_cancelled_total{type="echo"})", 1}});
  // A junk path stays one bounded label.
  c.get("/no/such/path/1");
  c.get("/no/such/path/2");
  m = scrape(c);
  CHECK(
      metric(
          m,
          R"(taskd_http_request_duration_seconds_count{code="404",method="GET",route="other"})") ==
      2);
}

TEST_CASE("metrics: backpressure refusals and stalled attempts are counted") {
  taskd_process d(config_with(metric_types, "max_pending = 2"));
  auto c = d.client();
  std::vector<std::uint64_t> held;
  for (int i = 0; i < 2; ++i)
    held.push_back(id_of(create_task(c, json::object{{"type", "echo"}, {"delay_ms", 3600000}})));
  auto r = c.post("/api/v1/tasks", json::object{{"type", "echo"}});
  REQUIRE(r.status == 429);
  auto m = scrape(c);
  CHECK(metric(m, R"(taskd_admission_rejected_total{type="echo"})") == 1);
  CHECK(metric(m, R"(taskd_tasks{status="pending",type="echo"})") == 2);
  CHECK(metric(m, R"(taskd_oldest_pending_age_seconds{type="echo"})") >= 0);

  // A running attempt lost to kill -9 is counted as stalled by the next process.
  for (auto id : held)
    REQUIRE(c.post("/api/v1/tasks/" + std::to_string(id) + "/cancel", json::object{}).status ==
            200);
  auto s = create_task(c, json::object{{"type", "slow"}, {"payload", {{"ms", 60000}}}});
  wait_until([&] { return status_of(c, id_of(s)) == "in_progress"; }, 10s, "the sleep to start");
  wait_durable(c, id_of(s)); // killed before its start is synced, it would just be pending
  d.restart();
  c = d.client();
  m = scrape(c);
  CHECK(metric(m, R"(taskd_tasks_stalled_total{type="slow"})") == 1);
  CHECK(metric(m, R"(taskd_tasks_retried_total{type="slow"})") == 1);
}
