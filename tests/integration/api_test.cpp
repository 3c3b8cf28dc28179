// The REST API against a real taskd: create/get/list, batch, retry/cancel/delete,
// idempotency, the types endpoint, health probes and delayed tasks.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string api_types = R"(
[types.echo]
handler = "builtin:echo"
concurrency = 4
max_attempts = 2
backoff = { type = "fixed", delay_ms = 50 }
timeout_ms = 5000

[types.noop]
handler = "builtin:noop"

[types.fail]
handler = "builtin:fail"
max_attempts = 1
)";

std::string api_config() { return config_with(api_types); }

std::size_t task_count(http_client& c) { return list_all(c).size(); }

std::string code_of(const http_response& r) {
  if (!r.json.is_object() || !r.json.as_object().contains("error")) return "";
  return std::string(r.json.at("error").at("code").as_string());
}

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

} // namespace

TEST_CASE("integration: create returns the task object and get finds it") {
  taskd_process d(api_config());
  auto c = d.client();
  // Unicode, nesting, numbers of every kind: the payload must come back byte-for-byte.
  json::object payload{{"greeting", "h\u00e9llo \u2713 \U0001F600"},
                       {"n", 3},
                       {"big", 9007199254740993ULL},
                       {"neg", -12},
                       {"pi", 3.25},
                       {"nested", {{"list", json::array{1, nullptr, true, "x"}}}}};
  auto r = c.post("/api/v1/tasks",
                  json::object{{"type", "echo"}, {"payload", payload}, {"priority", 7}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  CHECK(r.header("content-type").find("application/json") != std::string::npos);
  auto& t = r.json.as_object();
  auto id = id_of(t);
  CHECK(id > 0);
  CHECK(t.at("type") == "echo");
  CHECK(t.at("payload") == payload);
  CHECK(t.at("mode") == "async");
  CHECK(t.at("priority") == 7);
  CHECK(t.at("max_attempts") == 2);
  CHECK(t.at("timeout_ms") == 5000);
  CHECK(t.at("backoff").at("type") == "fixed");
  CHECK(t.at("backoff").at("delay_ms") == 50);
  CHECK(t.at("idempotency_key").is_null());
  CHECK(rfc3339_ms(t.at("created_at")) > 0);
  CHECK(rfc3339_ms(t.at("run_at")) > 0);
  // The engine may already have run it; anything else would be a lost create.
  std::string st = str(t.at("status"));
  CHECK((st == "pending" || st == "in_progress" || st == "completed"));

  auto g = c.get("/api/v1/tasks/" + std::to_string(id));
  REQUIRE_MESSAGE(g.status == 200, g.describe());
  CHECK(id_of(g.json) == id);
  CHECK(g.json.at("payload") == payload);

  auto done = wait_terminal(c, id, 5s);
  CHECK(done.at("status") == "completed");
  CHECK(done.at("result") == payload); // builtin:echo: result = payload
  CHECK(done.at("attempts") == 1);
  CHECK(done.at("error").is_null());
  CHECK(!done.at("started_at").is_null());
  CHECK(rfc3339_ms(done.at("finished_at")) >= rfc3339_ms(done.at("started_at")));
  CHECK(rfc3339_ms(done.at("started_at")) >= rfc3339_ms(done.at("created_at")));

  // Per-request overrides beat the type's defaults.
  auto o = create_task(c, json::object{{"type", "echo"},
                                       {"max_attempts", 5},
                                       {"timeout_ms", 1234},
                                       {"backoff", {{"type", "exponential"}, {"delay_ms", 10}}}});
  CHECK(o.at("max_attempts") == 5);
  CHECK(o.at("timeout_ms") == 1234);
  CHECK(o.at("backoff").at("type") == "exponential");
  CHECK(o.at("backoff").at("delay_ms") == 10);
  // No payload given: an empty object.
  CHECK(o.at("payload") == json::object{});

  auto missing = c.get("/api/v1/tasks/999999");
  CHECK(missing.status == 404);
  CHECK(missing.json.at("error").at("code") == "not_found");
  CHECK(c.get("/api/v1/tasks/abc").status == 404);
  CHECK(c.get("/api/v1/tasks/0").status == 404);
}

TEST_CASE("integration: list filters by status and type and pages with next_after") {
  taskd_process d(api_config());
  auto c = d.client();
  std::vector<std::uint64_t> echo_ids, noop_ids, delayed_ids;
  for (int i = 0; i < 5; ++i)
    echo_ids.push_back(id_of(create_task(c, json::object{{"type", "echo"}, {"payload", i}})));
  for (int i = 0; i < 3; ++i)
    noop_ids.push_back(id_of(create_task(c, json::object{{"type", "noop"}})));
  // Far in the future: these stay pending for the whole test.
  for (int i = 0; i < 2; ++i)
    delayed_ids.push_back(
        id_of(create_task(c, json::object{{"type", "noop"}, {"delay_ms", 600000}})));
  for (auto id : echo_ids) wait_terminal(c, id, 5s);
  for (auto id : noop_ids) wait_terminal(c, id, 5s);

  auto ids_of = [](const json::value& page) {
    std::vector<std::uint64_t> ids;
    for (auto& t : page.at("tasks").as_array()) ids.push_back(id_of(t));
    return ids;
  };

  auto all = c.get("/api/v1/tasks");
  REQUIRE_MESSAGE(all.status == 200, all.describe());
  CHECK(all.json.at("tasks").as_array().size() == 10);
  CHECK(all.json.at("next_after").is_null());
  auto all_ids = ids_of(all.json);
  CHECK(std::is_sorted(all_ids.begin(), all_ids.end()));

  auto pending = c.get("/api/v1/tasks?status=pending");
  REQUIRE(pending.status == 200);
  CHECK(ids_of(pending.json) == delayed_ids);

  auto echo = c.get("/api/v1/tasks?type=echo");
  REQUIRE(echo.status == 200);
  CHECK(ids_of(echo.json) == echo_ids);

  auto echo_done = c.get("/api/v1/tasks?type=echo&status=completed");
  REQUIRE(echo_done.status == 200);
  CHECK(ids_of(echo_done.json) == echo_ids);

  auto noop_pending = c.get("/api/v1/tasks?type=noop&status=pending");
  REQUIRE(noop_pending.status == 200);
  CHECK(ids_of(noop_pending.json) == delayed_ids);

  auto none = c.get("/api/v1/tasks?status=cancelled");
  REQUIRE(none.status == 200);
  CHECK(none.json.at("tasks").as_array().empty());
  CHECK(none.json.at("next_after").is_null());
  CHECK(c.get("/api/v1/tasks?type=nosuchtype").json.at("tasks").as_array().empty());

  // Paging: limit 3 over 10 tasks is 3+3+3+1, each page continuing after the last id.
  std::vector<std::uint64_t> paged;
  std::string after;
  int pages = 0;
  for (; pages < 20; ++pages) {
    auto r = c.get("/api/v1/tasks?limit=3" + (after.empty() ? "" : "&after=" + after));
    REQUIRE_MESSAGE(r.status == 200, r.describe());
    auto ids = ids_of(r.json);
    CHECK(ids.size() <= 3);
    paged.insert(paged.end(), ids.begin(), ids.end());
    if (r.json.at("next_after").is_null()) break;
    CHECK(id_of(json::object{{"id", r.json.at("next_after")}}) == ids.back());
    after = std::to_string(ids.back());
  }
  CHECK(pages + 1 == 4);
  CHECK(paged == all_ids);

  // A filtered page also pages: echo tasks two at a time.
  auto p1 = c.get("/api/v1/tasks?type=echo&limit=2");
  REQUIRE(p1.status == 200);
  CHECK(ids_of(p1.json) == std::vector<std::uint64_t>{echo_ids[0], echo_ids[1]});
  auto p2 = c.get("/api/v1/tasks?type=echo&limit=2&after=" + std::to_string(echo_ids[1]));
  REQUIRE(p2.status == 200);
  CHECK(ids_of(p2.json) == std::vector<std::uint64_t>{echo_ids[2], echo_ids[3]});

  // Exactly limit tasks left: the page is full and there is nothing after it.
  auto exact = c.get("/api/v1/tasks?type=echo&limit=5");
  REQUIRE(exact.status == 200);
  CHECK(ids_of(exact.json).size() == 5);
  CHECK(exact.json.at("next_after").is_null());
  auto limit_max = c.get("/api/v1/tasks?limit=1000");
  CHECK(limit_max.status == 200);
}

TEST_CASE("integration: batch create is all or nothing") {
  taskd_process d(api_config());
  auto c = d.client();
  auto r =
      c.post("/api/v1/tasks/batch",
             json::object{{"tasks", json::array{json::object{{"type", "echo"}, {"payload", 1}},
                                                json::object{{"type", "noop"}},
                                                json::object{{"type", "echo"}, {"payload", 3}}}}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  auto& tasks = r.json.at("tasks").as_array();
  REQUIRE(tasks.size() == 3);
  CHECK(tasks[0].at("type") == "echo");
  CHECK(tasks[1].at("type") == "noop");
  CHECK(tasks[2].at("payload") == 3);
  std::set<std::uint64_t> ids;
  for (auto& t : tasks) ids.insert(id_of(t));
  CHECK(ids.size() == 3);
  CHECK(id_of(tasks[0]) < id_of(tasks[1]));
  CHECK(id_of(tasks[1]) < id_of(tasks[2]));
  for (auto id : ids) CHECK(wait_terminal(c, id, 5s).at("status") == "completed");
  REQUIRE(task_count(c) == 3);

  // One bad item (an unknown field in the middle) refuses the whole batch.
  auto bad = c.post("/api/v1/tasks/batch",
                    json::object{{"tasks", json::array{json::object{{"type", "echo"}},
                                                       json::object{{"type", "echo"}, {"bogus", 1}},
                                                       json::object{{"type", "noop"}}}}});
  CHECK(bad.status == 400);
  CHECK(bad.json.at("error").at("code") == "invalid_request");
  CHECK(str(bad.json.at("error").at("message")).find("tasks[1]") != std::string::npos);

  auto unknown = c.post("/api/v1/tasks/batch",
                        json::object{{"tasks", json::array{json::object{{"type", "echo"}},
                                                           json::object{{"type", "nope"}}}}});
  CHECK(unknown.status == 400);
  CHECK(unknown.json.at("error").at("code") == "unknown_type");
  CHECK(str(unknown.json.at("error").at("message")).find("tasks[1]") != std::string::npos);

  auto not_object = c.post("/api/v1/tasks/batch",
                           json::object{{"tasks", json::array{json::object{{"type", "echo"}}, 5}}});
  CHECK(not_object.status == 400);
  CHECK(task_count(c) == 3);
}

// taskd bug: POST .../cancel, POST .../retry and DELETE .../{id} apply the change but never
// answer: the scheduler creates the response promise twice (the handler's `rp` and
// `remember()` in scheduler_actor.cpp); with CAF 0.17 the second one is invalid, so the
// reply is dropped and the request ends after ask_timeout (60 s) with 500 "scheduler did not
// answer". A short client timeout (a correct answer takes milliseconds) keeps this test from
// taking minutes while the bug stands; the effects are still checked through GET.
TEST_CASE("integration: retry, cancel and delete follow the status rules") {
  taskd_process d(api_config());
  auto c = d.client(1s);
  auto url = [](std::uint64_t id, const std::string& action = "") {
    return "/api/v1/tasks/" + std::to_string(id) + (action.empty() ? "" : "/" + action);
  };

  // A failed task: cancel is refused, retry re-runs it from attempt 1.
  auto failed_id =
      id_of(create_task(c, json::object{{"type", "fail"}, {"payload", {{"message", "boom"}}}}));
  auto failed = wait_terminal(c, failed_id, 5s);
  REQUIRE(failed.at("status") == "failed");
  CHECK(failed.at("attempts") == 1);
  CHECK(failed.at("error") == "boom");
  auto cancel_failed = c.post_raw(url(failed_id, "cancel"), "");
  CHECK_MESSAGE(cancel_failed.status == 409, cancel_failed.describe());
  CHECK(code_of(cancel_failed) == "conflict");
  auto retried = c.post_raw(url(failed_id, "retry"), "");
  CHECK_MESSAGE(retried.status == 200, retried.describe());
  if (retried.status == 200) {
    CHECK(id_of(retried.json) == failed_id);
    std::string after_retry = str(retried.json.at("status"));
    CHECK((after_retry == "pending" || after_retry == "in_progress"));
  }
  // The retry counts from zero again: it fails after exactly one more attempt.
  wait_until(
      [&] {
        auto t = get_task(c, failed_id);
        return t.is_object() && t.at("status") == "failed" &&
               t.at("finished_at") != failed.at("finished_at");
      },
      5s, "the retried task to run and fail again");
  CHECK(get_task(c, failed_id).at("attempts") == 1);

  // A completed task: neither retry nor cancel; delete works once.
  auto done_id = id_of(create_task(c, json::object{{"type", "echo"}, {"payload", "x"}}));
  REQUIRE(wait_terminal(c, done_id, 5s).at("status") == "completed");
  CHECK(c.post_raw(url(done_id, "retry"), "").status == 409);
  CHECK(c.post_raw(url(done_id, "cancel"), "").status == 409);
  auto del = c.del(url(done_id));
  CHECK_MESSAGE(del.status == 200, del.describe());
  if (del.status == 200) {
    CHECK(del.json.at("deleted") == true);
    CHECK(id_of(del.json) == done_id);
  }
  CHECK(c.get(url(done_id)).status == 404);
  CHECK(c.del(url(done_id)).status == 404);

  // A pending (delayed) task: cancelled first thing, then it is finished and never runs.
  auto soon = id_of(create_task(c, json::object{{"type", "echo"}, {"delay_ms", 400}}));
  auto cancelled = c.post_raw(url(soon, "cancel"), "");
  CHECK_MESSAGE(cancelled.status == 200, cancelled.describe());
  if (cancelled.status == 200) CHECK(cancelled.json.at("status") == "cancelled");
  // A twin created after it with the same delay is due later; once it ran, the cancelled
  // task's due time has passed too.
  auto twin = id_of(create_task(c, json::object{{"type", "echo"}, {"delay_ms", 400}}));
  auto cancelled_task = get_task(c, soon);
  REQUIRE(cancelled_task.is_object());
  CHECK(cancelled_task.at("status") == "cancelled");
  CHECK(!cancelled_task.at("finished_at").is_null());
  CHECK(c.post_raw(url(soon, "cancel"), "").status == 409);
  CHECK(c.post_raw(url(soon, "retry"), "").status == 409);

  // Pending far in the future: neither retry nor delete.
  auto far = id_of(create_task(c, json::object{{"type", "echo"}, {"delay_ms", 600000}}));
  CHECK(c.post_raw(url(far, "retry"), "").status == 409);
  auto del_pending = c.del(url(far));
  CHECK(del_pending.status == 409);
  CHECK(code_of(del_pending) == "conflict");
  CHECK(status_of(c, far) == "pending");

  CHECK(wait_terminal(c, twin, 5s).at("status") == "completed");
  auto still = get_task(c, soon);
  REQUIRE(still.is_object());
  CHECK(still.at("status") == "cancelled");
  CHECK(still.at("attempts") == 0);
  CHECK(c.del(url(soon)).status == 200);
  CHECK(c.get(url(soon)).status == 404);

  // Unknown ids.
  CHECK(c.post_raw(url(999999, "retry"), "").status == 404);
  CHECK(c.post_raw(url(999999, "cancel"), "").status == 404);
  CHECK(c.del(url(999999)).status == 404);
}

TEST_CASE("integration: a repeated idempotency key returns the existing task") {
  taskd_process d(api_config());
  auto c = d.client();
  auto first =
      c.post("/api/v1/tasks",
             json::object{{"type", "echo"}, {"payload", "first"}, {"idempotency_key", "order-17"}});
  REQUIRE_MESSAGE(first.status == 201, first.describe());
  CHECK(first.json.at("idempotency_key") == "order-17");
  auto id = id_of(first.json);
  // Same key, different payload: the original task, not a new one.
  auto again = c.post(
      "/api/v1/tasks",
      json::object{{"type", "echo"}, {"payload", "second"}, {"idempotency_key", "order-17"}});
  REQUIRE_MESSAGE(again.status == 200, again.describe());
  CHECK(id_of(again.json) == id);
  CHECK(again.json.at("payload") == "first");
  CHECK(task_count(c) == 1);
  CHECK(wait_terminal(c, id, 5s).at("result") == "first");
  auto late =
      c.post("/api/v1/tasks", json::object{{"type", "echo"}, {"idempotency_key", "order-17"}});
  CHECK(late.status == 200);
  CHECK(id_of(late.json) == id);
  CHECK(late.json.at("status") == "completed");

  // Concurrent creates with one key: exactly one 201, every answer names the same task.
  std::vector<std::thread> threads;
  std::vector<http_response> answers(8);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    threads.emplace_back([&, i] {
      auto tc = d.client();
      answers[i] =
          tc.post("/api/v1/tasks", json::object{{"type", "noop"}, {"idempotency_key", "race"}});
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::set<std::uint64_t> race_ids;
  for (auto& a : answers) {
    CHECK_MESSAGE((a.status == 201 || a.status == 200), a.describe());
    created += a.status == 201;
    race_ids.insert(id_of(a.json));
  }
  CHECK(created == 1);
  CHECK(race_ids.size() == 1);
  CHECK(task_count(c) == 2);
}

// Same taskd bug as above (DELETE never answers); the key is freed all the same.
TEST_CASE("integration: deleting a task frees its idempotency key") {
  taskd_process d(api_config());
  auto c = d.client(3s);
  auto id = id_of(create_task(c, json::object{{"type", "echo"}, {"idempotency_key", "k"}}));
  REQUIRE(wait_terminal(c, id, 5s).at("status") == "completed");
  auto del = c.del("/api/v1/tasks/" + std::to_string(id));
  CHECK_MESSAGE(del.status == 200, del.describe());
  CHECK(c.get("/api/v1/tasks/" + std::to_string(id)).status == 404);
  auto reused = c.post("/api/v1/tasks", json::object{{"type", "echo"}, {"idempotency_key", "k"}});
  CHECK_MESSAGE(reused.status == 201, reused.describe());
  CHECK(id_of(reused.json) != id);
}

TEST_CASE("integration: types endpoint reports settings and counts by status") {
  taskd_process d(api_config());
  auto c = d.client();
  std::vector<std::uint64_t> finished;
  for (int i = 0; i < 2; ++i)
    finished.push_back(id_of(create_task(c, json::object{{"type", "echo"}})));
  finished.push_back(id_of(create_task(c, json::object{{"type", "fail"}})));
  for (int i = 0; i < 3; ++i) create_task(c, json::object{{"type", "noop"}, {"delay_ms", 600000}});
  for (auto id : finished) wait_terminal(c, id, 5s);

  auto r = c.get("/api/v1/types");
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  std::map<std::string, json::object> types;
  for (auto& t : r.json.at("types").as_array()) types[str(t.at("name"))] = t.as_object();
  REQUIRE(types.size() == 3);
  REQUIRE(types.count("echo") == 1);
  REQUIRE(types.count("noop") == 1);
  REQUIRE(types.count("fail") == 1);
  CHECK(types["echo"].at("handler") == "builtin:echo");
  CHECK(types["echo"].at("concurrency") == 4);
  CHECK(types["echo"].at("max_attempts") == 2);
  CHECK(types["echo"].at("mode") == "async");
  CHECK(types["echo"].at("backoff").at("type") == "fixed");
  CHECK(types["echo"].at("timeout_ms") == 5000);
  CHECK(types["echo"].at("max_pending").is_null());
  CHECK(types["echo"].at("counts").at("completed") == 2);
  CHECK(types["echo"].at("counts").at("pending") == 0);
  CHECK(types["fail"].at("counts").at("failed") == 1);
  CHECK(types["noop"].at("counts").at("pending") == 3);
  CHECK(types["noop"].at("counts").at("cancelled") == 0);
  CHECK(types["noop"].at("counts").at("completed") == 0);
  for (auto& [name, t] : types) CHECK_MESSAGE(t.at("running") == 0, name);
}

TEST_CASE("integration: healthz and readyz answer") {
  taskd_process d(api_config());
  auto c = d.client();
  auto h = c.get("/healthz");
  CHECK(h.status == 200);
  CHECK(h.json.at("status") == "ok");
  auto r = c.get("/readyz");
  CHECK(r.status == 200);
  CHECK(r.json.at("ready") == true);
  auto ui = c.get("/");
  CHECK(ui.status == 200);
  CHECK(ui.header("content-type").find("text/html") != std::string::npos);
}

TEST_CASE("integration: delayed tasks stay pending until due, then run") {
  taskd_process d(api_config());
  auto c = d.client();
  auto start = steady::now();
  auto by_delay = create_task(c, json::object{{"type", "echo"}, {"delay_ms", 400}});
  auto created_ms = rfc3339_ms(by_delay.at("created_at"));
  auto due_ms = rfc3339_ms(by_delay.at("run_at"));
  // run_at is taken when the request is parsed, created_at when it commits (a bit later).
  CHECK(due_ms - created_ms >= 300);
  CHECK(due_ms - created_ms <= 400);

  // run_at given as a timestamp 500 ms from now (RFC3339 with milliseconds, UTC).
  long long target = now_ns() / 1000000 + 500;
  std::time_t secs = static_cast<std::time_t>(target / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(target % 1000));
  auto by_time = create_task(c, json::object{{"type", "echo"}, {"run_at", buf}});
  CHECK(rfc3339_ms(by_time.at("run_at")) == target);
  // A run_at in the past means now.
  auto past = create_task(c, json::object{{"type", "echo"}, {"run_at", "2001-01-01T00:00:00Z"}});
  CHECK(rfc3339_ms(past.at("run_at")) >= rfc3339_ms(past.at("created_at")) - 50);

  // Until 300 ms in, both delayed tasks must still be pending (they are due at 400/500).
  while (elapsed_ms(start) < 300) {
    CHECK(status_of(c, id_of(by_delay)) == "pending");
    CHECK(status_of(c, id_of(by_time)) == "pending");
    std::this_thread::sleep_for(10ms); // sampling interval while asserting "not yet"
  }
  CHECK(wait_terminal(c, id_of(past), 5s).at("status") == "completed");
  for (const auto* t : {&by_delay, &by_time}) {
    auto done = wait_terminal(c, id_of(*t), 5s);
    CHECK(done.at("status") == "completed");
    CHECK(rfc3339_ms(done.at("started_at")) >= rfc3339_ms(t->at("run_at")));
  }
  CHECK(elapsed_ms(start) >= 400);
}

TEST_CASE("integration: keep-alive connections carry pipelined requests") {
  taskd_process d(api_config());
  raw_connection conn(d.port());
  REQUIRE(conn.connected());
  std::string body = R"({"type": "noop"})";
  // Three requests in one write; the answers come back in order on the same connection.
  REQUIRE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body +
                    "GET /api/v1/tasks/999999 HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = conn.read_until("HTTP/1.1 ", 5s, 3);
  auto first = got.find("HTTP/1.1 200");
  auto second = got.find("HTTP/1.1 201");
  auto third = got.find("HTTP/1.1 404");
  CHECK_MESSAGE(first != std::string::npos, got);
  CHECK_MESSAGE(second != std::string::npos, got);
  CHECK_MESSAGE(third != std::string::npos, got);
  CHECK((first < second && second < third));
}

// taskd bug: a request with "Expect: 100-continue" (curl adds it to every POST body over
// 1 KiB) never gets "100 Continue" nor an early final status, although RFC 9110 section
// 10.1.1 requires one of them. The client waits for nothing: curl stalls 1 s per such
// request before sending the body anyway; stricter clients hang until their own timeout.
TEST_CASE("integration: Expect: 100-continue is answered with 100 Continue") {
  taskd_process d(api_config());
  std::string body = R"({"type": "echo", "payload": ")" + std::string(2000, 'p') + "\"}";
  raw_connection conn(d.port());
  REQUIRE(conn.connected());
  REQUIRE(conn.send("POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Expect: 100-continue\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n"));
  std::string interim = conn.read_until("\r\n\r\n", 1s);
  CHECK_MESSAGE(interim.rfind("HTTP/1.1 100", 0) == 0, "got: \"" << interim << "\"");
  // The body follows either way and the task is created.
  REQUIRE(conn.send(body));
  std::string got = conn.read_until("HTTP/1.1 201", 5s);
  CHECK_MESSAGE(got.find("HTTP/1.1 201") != std::string::npos, got);
}

TEST_CASE("integration: list pages hold 100 tasks unless limit says otherwise") {
  taskd_process d(api_config());
  auto c = d.client();
  json::array batch;
  for (int i = 0; i < 150; ++i) batch.push_back(json::object{{"type", "noop"}});
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  auto page = c.get("/api/v1/tasks");
  REQUIRE(page.status == 200);
  CHECK(page.json.at("tasks").as_array().size() == 100);
  CHECK(id_of(json::object{{"id", page.json.at("next_after")}}) ==
        id_of(page.json.at("tasks").as_array().back()));
  auto rest = c.get("/api/v1/tasks?after=" +
                    std::to_string(id_of(page.json.at("tasks").as_array().back())));
  REQUIRE(rest.status == 200);
  CHECK(rest.json.at("tasks").as_array().size() == 50);
  CHECK(rest.json.at("next_after").is_null());
}

TEST_CASE("integration: retention prunes finished tasks by age and by count") {
  taskd_process d(config_with(api_types + R"(
[retention]
completed_ms = 400
failed_ms = 0
failed_max = 2
cancelled_ms = 0
prune_batch = 3
prune_interval_ms = 20
)"));
  auto c = d.client();
  std::vector<std::uint64_t> echo_ids, fail_ids;
  for (int i = 0; i < 7; ++i)
    echo_ids.push_back(id_of(create_task(c, json::object{{"type", "echo"}, {"payload", i}})));
  for (int i = 0; i < 5; ++i) {
    fail_ids.push_back(id_of(create_task(c, json::object{{"type", "fail"}})));
    // One at a time, so "oldest finished first" has a well-defined order.
    REQUIRE(wait_terminal(c, fail_ids.back(), 5s).at("status") == "failed");
  }
  auto pending = id_of(create_task(c, json::object{{"type", "noop"}, {"delay_ms", 600000}}));
  long long last_finished = 0;
  for (auto id : echo_ids) {
    auto t = wait_terminal(c, id, 5s);
    last_finished = std::max(last_finished, rfc3339_ms(t.at("finished_at")));
  }

  // Count bound: only the two most recently failed stay.
  wait_until([&] { return list_all(c, "status=failed").size() == 2; }, 5s,
             "failed tasks to be pruned down to 2");
  std::vector<std::uint64_t> kept;
  for (auto& t : list_all(c, "status=failed")) kept.push_back(id_of(t));
  CHECK(kept == std::vector<std::uint64_t>{fail_ids[3], fail_ids[4]});

  // Age bound: completed tasks go once 400 ms old, not before.
  wait_until([&] { return list_all(c, "status=completed").empty(); }, 5s,
             "completed tasks to be pruned");
  CHECK(now_ns() / 1000000 >= last_finished + 400);
  CHECK(c.get("/api/v1/tasks/" + std::to_string(echo_ids[0])).status == 404);
  // Unfinished tasks are never pruned, and the counters follow the deletions.
  CHECK(status_of(c, pending) == "pending");
  auto types = c.get("/api/v1/types");
  REQUIRE(types.status == 200);
  for (auto& t : types.json.at("types").as_array()) {
    if (t.at("name") == "echo") CHECK(t.at("counts").at("completed") == 0);
    if (t.at("name") == "fail") CHECK(t.at("counts").at("failed") == 2);
    if (t.at("name") == "noop") CHECK(t.at("counts").at("pending") == 1);
  }
}
