#include <doctest/doctest.h>

#include "src/core/lifecycle.hpp"

using namespace taskd;

namespace {
task pending_task(int max_attempts = 3) {
  task t;
  t.id = 7;
  t.type = "echo";
  t.max_attempts = max_attempts;
  t.backoff = {backoff_kind::exponential, 1000};
  return t;
}
} // namespace

TEST_CASE("backoff: exponential doubles per failed attempt, fixed stays") {
  backoff_policy e{backoff_kind::exponential, 1000};
  CHECK(backoff_delay(e, 1) == 1000);
  CHECK(backoff_delay(e, 2) == 2000);
  CHECK(backoff_delay(e, 3) == 4000);
  CHECK(backoff_delay(e, 10) == 512000);
  backoff_policy f{backoff_kind::fixed, 250};
  CHECK(backoff_delay(f, 1) == 250);
  CHECK(backoff_delay(f, 9) == 250);
}

TEST_CASE("backoff: huge attempt numbers are capped, zero delay is zero") {
  backoff_policy e{backoff_kind::exponential, 1000};
  CHECK(backoff_delay(e, 200) == 30LL * 24 * 3600 * 1000);
  CHECK(backoff_delay({backoff_kind::exponential, 0}, 5) == 0);
}

TEST_CASE("lifecycle: a task waiting for its run_at (a retry's backoff) does not start early") {
  task t = pending_task();
  t.run_at = 500;
  auto early = start_attempt(t, 499);
  REQUIRE(!early.ok());
  CHECK(early.err().code == errc::conflict);
  CHECK(t.status == task_status::pending);
  CHECK(t.attempts == 0);
  CHECK(start_attempt(t, 500).ok());
}

TEST_CASE("lifecycle: start then complete") {
  task t = pending_task();
  REQUIRE(start_attempt(t, 100).ok());
  CHECK(t.status == task_status::in_progress);
  CHECK(t.attempts == 1);
  CHECK(t.started_at == 100);
  REQUIRE(complete_attempt(t, boost::json::value(42), 150).ok());
  CHECK(t.status == task_status::completed);
  CHECK(t.result == boost::json::value(42));
  CHECK(t.finished_at == 150);
  CHECK(is_terminal(t.status));
}

TEST_CASE("lifecycle: failed attempts retry with backoff, then fail") {
  task t = pending_task(3);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const millis now = std::max<millis>(1000, t.run_at); // a retry starts once it is due
    REQUIRE(start_attempt(t, now).ok());
    auto r = fail_attempt(t, "boom", true, now);
    REQUIRE(r.ok());
    CHECK(*r == attempt_end::retry_scheduled);
    CHECK(t.status == task_status::pending);
    CHECK(t.run_at == now + backoff_delay(t.backoff, attempt));
    CHECK(t.error == "boom");
  }
  REQUIRE(start_attempt(t, 9000).ok());
  auto r = fail_attempt(t, "last", true, 9000);
  REQUIRE(r.ok());
  CHECK(*r == attempt_end::failed);
  CHECK(t.status == task_status::failed);
  CHECK(t.attempts == 3);
  CHECK(t.finished_at == 9000);
}

TEST_CASE("lifecycle: a non-retryable failure ends the task at once") {
  task t = pending_task(5);
  REQUIRE(start_attempt(t, 1).ok());
  auto r = fail_attempt(t, "HTTP 404", false, 2);
  REQUIRE(r.ok());
  CHECK(*r == attempt_end::failed);
  CHECK(t.status == task_status::failed);
}

TEST_CASE("lifecycle: stalled attempts are retried, or abandoned when none are left") {
  task t = pending_task(2);
  REQUIRE(start_attempt(t, 1).ok());
  auto r = stall_attempt(t, "lost", 5);
  REQUIRE(r.ok());
  CHECK(*r == attempt_end::retry_scheduled);
  CHECK(t.status == task_status::pending);
  CHECK(t.run_at == 5);
  REQUIRE(start_attempt(t, 6).ok());
  r = stall_attempt(t, "lost again", 7);
  REQUIRE(r.ok());
  CHECK(*r == attempt_end::failed);
  CHECK(t.status == task_status::abandoned);
  CHECK(t.error->find("stalled") != std::string::npos);
}

TEST_CASE("lifecycle: illegal transitions are conflicts and change nothing") {
  task t = pending_task();
  auto before = encode_task(t);
  CHECK(complete_attempt(t, nullptr, 1).err().code == errc::conflict);
  CHECK(fail_attempt(t, "x", true, 1).err().code == errc::conflict);
  CHECK(stall_attempt(t, "x", 1).err().code == errc::conflict);
  CHECK(retry_task(t, 1).err().code == errc::conflict);
  CHECK(check_deletable(t).err().code == errc::conflict);
  CHECK(encode_task(t) == before);
  REQUIRE(start_attempt(t, 1).ok());
  CHECK(start_attempt(t, 1).err().code == errc::conflict);
  CHECK(cancel_task(t, 1).err().code == errc::conflict);
}

TEST_CASE("lifecycle: cancel, retry by request, delete") {
  task t = pending_task();
  REQUIRE(cancel_task(t, 3).ok());
  CHECK(t.status == task_status::cancelled);
  CHECK(check_deletable(t).ok());
  CHECK(retry_task(t, 4).err().code == errc::conflict);

  task f = pending_task(1);
  REQUIRE(start_attempt(f, 1).ok());
  REQUIRE(fail_attempt(f, "x", true, 2).ok());
  REQUIRE(f.status == task_status::failed);
  REQUIRE(retry_task(f, 10).ok());
  CHECK(f.status == task_status::pending);
  CHECK(f.attempts == 0);
  CHECK(f.run_at == 10);
  CHECK(!f.finished_at);
}
