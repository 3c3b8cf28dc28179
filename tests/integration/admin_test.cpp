// Administration against a real taskd: pause/resume (durable), promote, bulk retry and
// cancel by type, cleaning old finished tasks, engine info, newest-first listing.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string admin_types = R"(
[types.echo]
handler = "builtin:echo"

[types.lane]
handler = "builtin:echo"
mode = "sync"

[types.other]
handler = "builtin:noop"

[types.fail]
handler = "builtin:fail"
max_attempts = 1
)";

std::string path_of(const json::value& t, const std::string& action = "") {
  return "/api/v1/tasks/" + std::to_string(id_of(t)) + (action.empty() ? "" : "/" + action);
}

/// Evidence that dispatch ran past `t`: a task of an unpaused type created after it
/// completes. (A paused task "staying pending" can only be shown against such a witness.)
void dispatch_went_past(http_client& c) {
  auto w = create_task(c, json::object{{"type", "other"}});
  auto done = wait_terminal(c, id_of(w), 10s);
  REQUIRE(done.at("status") == "completed");
}

} // namespace

TEST_CASE("admin: a paused type admits but does not dispatch, across a restart, until resumed") {
  taskd_process d(config_with(admin_types));
  auto c = d.client();
  for (const char* type : {"echo", "lane"}) {
    CAPTURE(type);
    auto r = c.post(std::string("/api/v1/types/") + type + "/pause", json::object{});
    REQUIRE_MESSAGE(r.status == 200, r.describe());
    CHECK(r.json.at("paused") == true);
    CHECK(r.json.at("name") == type);
  }
  auto a = create_task(c, json::object{{"type", "echo"}});
  auto s = create_task(c, json::object{{"type", "lane"}});
  dispatch_went_past(c);
  CHECK(status_of(c, id_of(a)) == "pending");
  CHECK(status_of(c, id_of(s)) == "pending");
  auto types = c.get("/api/v1/types/echo");
  CHECK(types.json.at("paused") == true);
  CHECK(types.json.at("counts").at("pending") == 1);
  // At once, though the pause's answer, a moment ago, found none (it is cached a second).
  CHECK(types.json.at("oldest_pending_at") == a.at("created_at"));

  d.restart();
  c = d.client();
  dispatch_went_past(c);
  CHECK(status_of(c, id_of(a)) == "pending");
  CHECK(status_of(c, id_of(s)) == "pending");
  CHECK(c.get("/api/v1/types/lane").json.at("paused") == true);

  for (const char* type : {"echo", "lane"}) {
    auto r = c.post(std::string("/api/v1/types/") + type + "/resume", json::object{});
    REQUIRE_MESSAGE(r.status == 200, r.describe());
    CHECK(r.json.at("paused") == false);
  }
  CHECK(wait_terminal(c, id_of(a), 10s).at("status") == "completed");
  CHECK(wait_terminal(c, id_of(s), 10s).at("status") == "completed");
  auto echo = c.get("/api/v1/types/echo").json;
  CHECK(echo.at("completed_last_minute").to_number<int>() >= 1);
  CHECK(echo.at("throughput_per_s").to_number<double>() > 0);

  CHECK(c.post("/api/v1/types/nope/pause", json::object{}).status == 404);
  CHECK(c.get("/api/v1/types/echo/pause").status == 405);
}

TEST_CASE("admin: promote runs a delayed task now; anything else is a conflict") {
  taskd_process d(config_with(admin_types));
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "echo"}, {"delay_ms", 3600000}});
  auto r = c.post(path_of(t, "promote"), json::object{});
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(rfc3339_ms(r.json.at("run_at")) < rfc3339_ms(t.at("run_at")));
  CHECK(wait_terminal(c, id_of(t), 10s).at("status") == "completed");
  CHECK(c.post(path_of(t, "promote"), json::object{}).status == 409);
  CHECK(c.post("/api/v1/tasks/424242/promote", json::object{}).status == 404);
}

TEST_CASE("admin: retry all failed and cancel all pending act on every match, not a page") {
  taskd_process d(config_with(admin_types));
  auto c = d.client();
  json::array batch;
  for (int i = 0; i < 600; ++i) batch.push_back(json::object{{"type", "fail"}});
  for (int i = 0; i < 2; ++i) // more than one bulk page (500)
    REQUIRE(c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}}).status == 201);
  wait_until([&] { return list_all(c, "status=failed&type=fail").size() == 1200; }, 30s,
             "1200 failed tasks");
  // Pause so the retried tasks stay pending and can be cancelled in bulk.
  REQUIRE(c.post("/api/v1/types/fail/pause", json::object{}).status == 200);
  auto r = c.post("/api/v1/types/fail/retry-failed", json::object{});
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(r.json.at("count") == 1200);
  CHECK(list_all(c, "status=pending&type=fail").size() == 1200);
  CHECK(list_all(c, "status=pending&type=fail").front().at("attempts") == 0);
  auto other = create_task(c, json::object{{"type", "echo"}});
  r = c.post("/api/v1/types/fail/cancel-pending", json::object{});
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(r.json.at("count") == 1200);
  CHECK(list_all(c, "status=cancelled&type=fail").size() == 1200);
  CHECK(wait_terminal(c, id_of(other), 10s).at("status") == "completed"); // other types untouched
  CHECK(c.post("/api/v1/types/fail/cancel-pending", json::object{}).json.at("count") == 0);
  CHECK(c.post("/api/v1/types/nope/retry-failed", json::object{}).status == 404);
}

TEST_CASE("admin: clean deletes finished tasks older than the given age") {
  taskd_process d(config_with(admin_types));
  auto c = d.client();
  auto done = create_task(c, json::object{{"type", "echo"}});
  auto failed = create_task(c, json::object{{"type", "fail"}});
  wait_terminal(c, id_of(done), 10s);
  wait_terminal(c, id_of(failed), 10s);
  auto pending = create_task(c, json::object{{"type", "echo"}, {"delay_ms", 3600000}});
  // Nothing finished an hour ago.
  auto r = c.post("/api/v1/tasks/clean", json::object{{"older_than_ms", 3600000}});
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(r.json.at("count") == 0);
  // By type, then everything.
  r = c.post("/api/v1/tasks/clean", json::object{{"older_than_ms", 0}, {"type", "fail"}});
  CHECK(r.json.at("count") == 1);
  CHECK(c.get(path_of(failed)).status == 404);
  CHECK(c.get(path_of(done)).status == 200);
  r = c.post("/api/v1/tasks/clean", json::object{{"older_than_ms", 0}});
  CHECK(r.json.at("count") == 1);
  CHECK(c.get(path_of(done)).status == 404);
  CHECK(c.get(path_of(pending)).status == 200); // never finished tasks
  for (const char* bad : {R"({})", R"({"older_than_ms":-1})", R"({"older_than_ms":"1h"})",
                          R"({"older_than_ms":1,"colour":1})", "[]", "nope"}) {
    CAPTURE(bad);
    auto b = c.post_raw("/api/v1/tasks/clean", bad);
    CHECK(b.status == 400);
    CHECK(b.json.at("error").at("code").is_string());
  }
}

TEST_CASE("admin: engine info and newest-first listing") {
  taskd_process d(config_with(admin_types));
  auto c = d.client();
  for (int i = 0; i < 5; ++i) create_task(c, json::object{{"type", "other"}});
  auto info = c.get("/api/v1/admin/info");
  REQUIRE_MESSAGE(info.status == 200, info.describe());
  CHECK(info.json.at("version").is_string());
  CHECK(info.json.at("uptime_s").to_number<long long>() >= 0);
  CHECK(info.json.at("data_dir").as_string() == d.data_dir().c_str());
  CHECK(info.json.at("disk_bytes").to_number<long long>() > 0);
  CHECK(info.json.at("head_seq").to_number<long long>() >= 5);
  CHECK(info.json.at("subscribers") == 0);

  auto page = c.get("/api/v1/tasks?order=desc&limit=2");
  REQUIRE(page.status == 200);
  auto& tasks = page.json.at("tasks").as_array();
  REQUIRE(tasks.size() == 2);
  CHECK(id_of(tasks[0]) == 5);
  CHECK(id_of(tasks[1]) == 4);
  auto next = page.json.at("next_after").to_number<long long>();
  CHECK(next == 4);
  auto rest = c.get("/api/v1/tasks?order=desc&limit=10&after=" + std::to_string(next));
  REQUIRE(rest.json.at("tasks").as_array().size() == 3);
  CHECK(id_of(rest.json.at("tasks").as_array()[0]) == 3);
  CHECK(rest.json.at("next_after").is_null());
  auto typed = c.get("/api/v1/tasks?order=desc&type=other&status=completed&limit=1");
  CHECK(typed.status == 200);
  CHECK(c.get("/api/v1/tasks?order=sideways").status == 400);
}
