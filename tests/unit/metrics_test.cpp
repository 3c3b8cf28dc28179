// Metrics logic: what a committed change counts as, and bounded route labels.

#include <doctest/doctest.h>

#include <prometheus/text_serializer.h>

#include "src/core/lifecycle.hpp"
#include "src/core/transition.hpp"
#include "src/metrics/metrics.hpp"

using namespace taskd;

namespace {

task with(task_status s, std::optional<std::string> error = std::nullopt) {
  task t;
  t.type = "mail";
  t.status = s;
  t.error = std::move(error);
  return t;
}

} // namespace

TEST_CASE("transitions: each before/after pair has one meaning") {
  using ts = task_status;
  CHECK(classify(std::nullopt, with(ts::pending), false, false) == transition::created);
  CHECK(classify(std::nullopt, with(ts::pending), false, true) == transition::none);
  CHECK(classify(ts::pending, with(ts::in_progress), false, false) == transition::started);
  CHECK(classify(ts::in_progress, with(ts::completed), false, false) == transition::completed);
  CHECK(classify(ts::in_progress, with(ts::failed), false, false) == transition::failed);
  CHECK(classify(ts::in_progress, with(ts::pending, "boom"), false, false) ==
        transition::retry_scheduled);
  task stalled = with(ts::in_progress);
  stalled.attempts = 1;
  stalled.max_attempts = 2;
  REQUIRE(stall_attempt(stalled, "taskd restarted", 1000));
  CHECK(classify(ts::in_progress, stalled, false, false) == transition::stall_retried);
  CHECK(classify(ts::in_progress, with(ts::abandoned), false, false) == transition::abandoned);
  CHECK(classify(ts::failed, with(ts::pending), false, false) == transition::retried);
  CHECK(classify(ts::abandoned, with(ts::pending), false, false) == transition::retried);
  CHECK(classify(ts::pending, with(ts::cancelled), false, false) == transition::cancelled);
  CHECK(classify(ts::completed, with(ts::completed), true, false) == transition::deleted);
  CHECK(classify(ts::pending, with(ts::pending), false, false) == transition::none);
}

TEST_CASE("metrics: route labels are templates, unknown paths collapse") {
  CHECK(route_label("/api/v1/tasks") == "/api/v1/tasks");
  CHECK(route_label("/api/v1/tasks/123") == "/api/v1/tasks/{id}");
  CHECK(route_label("/api/v1/tasks/123/retry") == "/api/v1/tasks/{id}/retry");
  CHECK(route_label("/api/v1/tasks/batch") == "/api/v1/tasks/batch");
  CHECK(route_label("/api/v1/types/sendMessage/pause") == "/api/v1/types/{type}/pause");
  CHECK(route_label("/api/v1/types/x") == "/api/v1/types/{type}");
  CHECK(route_label("/") == "/ui");
  CHECK(route_label("/assets/index-abc.js") == "/ui");
  CHECK(route_label("/metrics") == "/metrics");
  CHECK(route_label("/api/v1/tasks/abc") == "other");
  CHECK(route_label("/api/v1/tasks/1/nope") == "other");
  CHECK(route_label("/wp-admin/x.php") == "other");
  CHECK(route_label("/api/v1/admin/info") == "/api/v1/admin/info");
}

TEST_CASE("metrics: a commit's changes become counters and histograms per type") {
  config cfg;
  cfg.types["mail"].name = "mail";
  metrics m(cfg, "test", 0);
  task done = with(task_status::completed);
  done.started_at = 1000;
  done.updated_at = 1500;
  task created = with(task_status::pending);
  m.observe_commit({{std::nullopt, &created, false, false},
                    {task_status::in_progress, &done, false, false},
                    {std::nullopt, &created, false, true}}, // an idempotent repeat
                   0.002);
  m.admission_rejected("mail", 3);
  m.http_request("GET", "/api/v1/tasks/{id}", 200, 0.001);
  auto text = m.scrape(gauge_sample{});
  CHECK(text.find("taskd_tasks_created_total{type=\"mail\"} 1") != std::string::npos);
  CHECK(text.find("taskd_tasks_completed_total{type=\"mail\"} 1") != std::string::npos);
  CHECK(text.find("taskd_admission_rejected_total{type=\"mail\"} 3") != std::string::npos);
  CHECK(text.find("taskd_task_run_seconds_sum{type=\"mail\"} 0.5") != std::string::npos);
  CHECK(text.find("taskd_store_commit_seconds_count 1") != std::string::npos);
  CHECK(text.find("route=\"/api/v1/tasks/{id}\"") != std::string::npos);
  CHECK(text.find("taskd_tasks{status=\"pending\",type=\"mail\"} 0") != std::string::npos);
  CHECK(text.find("process_resident_memory_bytes") != std::string::npos);
}
