// Attempt history from a timeline, and the bounded task log.

#include <doctest/doctest.h>

#include "src/core/attempts.hpp"
#include "src/core/lifecycle.hpp"

using namespace taskd;

namespace {

task state(task_status s, int attempts, millis at, std::optional<std::string> error = {}) {
  task t;
  t.status = s;
  t.attempts = attempts;
  t.updated_at = at;
  if (s == task_status::in_progress) t.started_at = at;
  t.error = std::move(error);
  return t;
}

} // namespace

TEST_CASE("attempts: each start opens an attempt, the next change closes it") {
  using ts = task_status;
  task failed = state(ts::pending, 1, 150, "exit code 2");
  failed.attempt_detail = boost::json::object{{"exit_code", 2}};
  task stalled = state(ts::in_progress, 2, 300);
  stalled.max_attempts = 3;
  REQUIRE(stall_attempt(stalled, "taskd restarted", 400));
  auto a = attempts_from_timeline({state(ts::pending, 0, 100), state(ts::in_progress, 1, 110),
                                   failed, state(ts::in_progress, 2, 300), stalled,
                                   state(ts::in_progress, 3, 500), state(ts::completed, 3, 520),
                                   state(ts::pending, 0, 600), state(ts::in_progress, 1, 610)});
  REQUIRE(a.size() == 4);
  CHECK(a[0].attempt == 1);
  CHECK(a[0].outcome == "failed");
  CHECK(*a[0].ended_at - a[0].started_at == 40);
  CHECK(a[0].detail.at("exit_code") == 2);
  CHECK(*a[0].error == "exit code 2");
  CHECK(a[1].outcome == "stalled");
  CHECK(a[2].outcome == "completed");
  CHECK(!a[2].error);
  CHECK(a[3].outcome == "running"); // retried by request, running now
  CHECK(!a[3].ended_at);
  auto j = to_json(a);
  CHECK(j[0].at("duration_ms") == 40);
  CHECK(j[3].at("ended_at").is_null());
}

TEST_CASE("task log: lines per attempt, oldest dropped past the bound") {
  task t;
  t.attempts = 1;
  record_attempt_output(t, boost::json::object{{"exit_code", 1}}, "one\r\ntwo\n\nthree");
  CHECK(t.log == "[attempt 1] one\n[attempt 1] two\n[attempt 1] three\n");
  CHECK(t.attempt_detail.at("exit_code") == 1);
  t.attempts = 2;
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "line " + std::to_string(i) + "\n";
  record_attempt_output(t, nullptr, big);
  CHECK(t.log.size() <= task_log_max_bytes);
  CHECK(t.log.rfind("[attempt 2] line 1999\n") == t.log.size() - 22);
  CHECK(t.log.find("[attempt 1]") == std::string::npos); // the oldest went first
  CHECK(t.log.rfind("[attempt 2] line", 0) == 0);        // whole lines only
}
