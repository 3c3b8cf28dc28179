// API snapshots: the JSON of every route's success and error answers, with what varies
// from run to run (times, durations, versions, paths, tokens) normalised, compared with
// the files in tests/snapshots/. A deliberate change of the API is accepted with
//   scripts/update-snapshots.sh
// (TASKD_UPDATE_SNAPSHOTS=1 makes this test write the files instead of comparing), and
// the diff of tests/snapshots/ then shows the change for review.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string snapshot_dir = std::string(TASKD_SOURCE_DIR) + "/tests/snapshots/";

// Fields whose values depend on when or where the test runs. Ids do not: a fresh store
// numbers tasks from 1, and the steps below run in a fixed order.
const std::set<std::string> volatile_fields = {
    "created_at", "updated_at", "started_at", "finished_at", "run_at", "ended_at", "duration_ms",
    "uptime_s", "disk_bytes", "data_dir", "version", "token", "expires_at", "lease_expires_at",
    "last_seen", "oldest_pending_at", "throughput_per_s", "completed_last_minute", "event_backlog",
    "subscribers",
    // Change-log numbers interleave with other tasks' changes.
    "seq", "head_seq"};

json::value normalise(const json::value& v, const std::string& key = "") {
  if (volatile_fields.count(key) && !v.is_null())
    return json::value(std::string("<") +
                       (v.is_string()   ? "string"
                        : v.is_number() ? "number"
                                        : "value") +
                       ">");
  if (v.is_object()) {
    json::object out;
    for (const auto& [k, val] : v.as_object()) out[k] = normalise(val, std::string(k));
    return out;
  }
  if (v.is_array()) {
    json::array out;
    for (const auto& e : v.as_array()) out.push_back(normalise(e));
    return out;
  }
  return v;
}

std::string pretty(const json::value& v, int indent = 0) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) return "{}";
    std::vector<std::string> keys;
    for (const auto& kv : o) keys.emplace_back(kv.key());
    std::sort(keys.begin(), keys.end()); // stable files, whatever the server's key order
    std::string out = "{\n";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out += pad + "  " + json::serialize(json::value(keys[i])) + ": " +
             pretty(o.at(keys[i]), indent + 2) + (i + 1 < keys.size() ? ",\n" : "\n");
    }
    return out + pad + "}";
  }
  if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.empty()) return "[]";
    std::string out = "[\n";
    for (std::size_t i = 0; i < a.size(); ++i)
      out += pad + "  " + pretty(a[i], indent + 2) + (i + 1 < a.size() ? ",\n" : "\n");
    return out + pad + "]";
  }
  return json::serialize(v);
}

/// Compares (or with TASKD_UPDATE_SNAPSHOTS=1 writes) one route case's snapshot.
void snapshot(const std::string& name, const std::string& request, const http_response& r) {
  json::object doc{{"request", request}, {"status", r.status}, {"body", normalise(r.json)}};
  const std::string text = pretty(doc) + "\n";
  const std::string path = snapshot_dir + name + ".json";
  const char* update = std::getenv("TASKD_UPDATE_SNAPSHOTS");
  if (update && std::string(update) == "1") {
    std::filesystem::create_directories(snapshot_dir);
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  const std::string missing = "no snapshot " + path + ": run scripts/update-snapshots.sh";
  REQUIRE_MESSAGE(std::filesystem::exists(path), missing);
  const std::string stored = read_file(path);
  const std::string diff = "snapshot " + name +
                           " differs (scripts/update-snapshots.sh accepts a deliberate change)\n"
                           "--- stored\n" +
                           stored + "--- now\n" + text;
  CHECK_MESSAGE(stored == text, diff);
}

} // namespace

TEST_CASE("snapshots: every route's answers keep their JSON shape") {
  taskd_process t(config_with(R"(
[types.echo]
handler = "builtin:echo"
[types.held]
handler = "builtin:noop"
[types.fail]
handler = "builtin:fail"
max_attempts = 1
[types.render]
handler = "worker"
)"));
  auto c = t.client();
  auto step = [&](const std::string& name, const std::string& method, const std::string& target,
                  const std::string& body = "") {
    auto r = c.request(method, target, body);
    snapshot(name, method + " " + target + (body.empty() ? "" : " " + body), r);
    return r;
  };
  // Types and the pause that keeps "held" tasks pending for the steps below.
  step("types_pause", "POST", "/api/v1/types/held/pause");
  step("types_get", "GET", "/api/v1/types/held");
  step("types_unknown", "GET", "/api/v1/types/nope");
  // Creates: 1 (echo), 2 (held), 3 (fail); a batch: 4, 5.
  step("tasks_create", "POST", "/api/v1/tasks",
       R"({"type":"echo","payload":{"hello":"world"},"priority":3})");
  step("tasks_create_held", "POST", "/api/v1/tasks",
       R"({"type":"held","payload":[1,2],"idempotency_key":"k-1"})");
  step("tasks_create_idempotent", "POST", "/api/v1/tasks",
       R"({"type":"held","payload":[1,2],"idempotency_key":"k-1"})");
  step("tasks_create_fail", "POST", "/api/v1/tasks",
       R"({"type":"fail","payload":{"reason":"boom"}})");
  step("tasks_batch", "POST", "/api/v1/tasks/batch",
       R"({"tasks":[{"type":"held"},{"type":"held","delay_ms":3600000}]})");
  step("tasks_create_invalid_json", "POST", "/api/v1/tasks", "{nope");
  step("tasks_create_unknown_type", "POST", "/api/v1/tasks", R"({"type":"nope"})");
  step("tasks_create_bad_field", "POST", "/api/v1/tasks", R"({"type":"echo","priority":"high"})");
  step("tasks_batch_empty", "POST", "/api/v1/tasks/batch", R"({"tasks":[]})");
  wait_until(
      [&] {
        auto a = c.get("/api/v1/tasks/1").json.at("status");
        auto b = c.get("/api/v1/tasks/3").json.at("status");
        return a == "completed" && b == "failed";
      },
      10s, "tasks 1 and 3 finish");
  step("tasks_get_completed", "GET", "/api/v1/tasks/1");
  step("tasks_get_failed", "GET", "/api/v1/tasks/3");
  step("tasks_get_missing", "GET", "/api/v1/tasks/999");
  step("tasks_get_bad_id", "GET", "/api/v1/tasks/abc");
  step("tasks_list_pending", "GET", "/api/v1/tasks?status=pending&limit=2");
  step("tasks_list_bad_status", "GET", "/api/v1/tasks?status=sleeping");
  step("tasks_attempts", "GET", "/api/v1/tasks/3/attempts");
  step("tasks_logs", "GET", "/api/v1/tasks/1/logs");
  step("tasks_events", "GET", "/api/v1/tasks/1/events");
  step("tasks_retry", "POST", "/api/v1/tasks/3/retry");
  step("tasks_retry_conflict", "POST", "/api/v1/tasks/1/retry");
  step("tasks_promote", "POST", "/api/v1/tasks/5/promote");
  step("tasks_cancel", "POST", "/api/v1/tasks/4/cancel");
  step("tasks_cancel_conflict", "POST", "/api/v1/tasks/1/cancel");
  step("tasks_delete_conflict", "DELETE", "/api/v1/tasks/2");
  step("tasks_delete", "DELETE", "/api/v1/tasks/4");
  step("tasks_clean", "POST", "/api/v1/tasks/clean", R"({"older_than_ms":3600000})");
  step("tasks_method_not_allowed", "PUT", "/api/v1/tasks/1");
  step("types_cancel_pending", "POST", "/api/v1/types/held/cancel-pending");
  step("types_resume", "POST", "/api/v1/types/held/resume");
  step("workers_lease_empty", "POST", "/api/v1/workers/lease",
       R"({"worker":"w-1","types":["render"],"max":1,"wait_ms":0})");
  step("workers_lease_bad", "POST", "/api/v1/workers/lease",
       R"({"worker":"w-1","types":["echo"]})");
  step("workers_list", "GET", "/api/v1/workers");
  step("workers_heartbeat_lost", "POST", "/api/v1/tasks/1/heartbeat", R"({"token":"nope"})");
  step("admin_log_level", "GET", "/api/v1/admin/log-level");
  step("admin_log_level_bad", "PUT", "/api/v1/admin/log-level", R"({"level":"loud"})");
  step("admin_info", "GET", "/api/v1/admin/info");
  step("healthz", "GET", "/healthz");
  step("readyz", "GET", "/readyz");
  step("route_unknown", "GET", "/api/v1/nothing-here");
}
