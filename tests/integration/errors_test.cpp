// Bad input of every kind gets the documented error, writes nothing, and leaves the
// server answering.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string error_types = R"(
[types.echo]
handler = "builtin:echo"

[types.noop]
handler = "builtin:noop"
)";

std::string error_config() {
  return config_with(error_types, "max_batch = 5\n", "max_body_bytes = 4096\n");
}

std::string message_of(const http_response& r) {
  if (!r.json.is_object()) return "";
  auto* e = r.json.as_object().if_contains("error");
  if (!e || !e->is_object()) return "";
  auto* m = e->as_object().if_contains("message");
  return m && m->is_string() ? std::string(m->as_string()) : "";
}

std::string code_of(const http_response& r) {
  if (!r.json.is_object()) return "";
  auto* e = r.json.as_object().if_contains("error");
  if (!e || !e->is_object()) return "";
  auto* c = e->as_object().if_contains("code");
  return c && c->is_string() ? std::string(c->as_string()) : "";
}

// Checks status, error code and that the message mentions `needle`.
void expect_error(const http_response& r, int status, const std::string& code,
                  const std::string& needle = "") {
  CHECK_MESSAGE(r.status == status, r.describe());
  CHECK_MESSAGE(code_of(r) == code, r.describe());
  CHECK_MESSAGE(r.header("content-type").find("application/json") != std::string::npos,
                r.describe());
  if (!needle.empty())
    CHECK_MESSAGE(message_of(r).find(needle) != std::string::npos,
                  "expected \"" << needle << "\" in " << r.describe());
}

// Nothing was written and the server still works.
void expect_untouched(taskd_process& d) {
  auto c = d.client();
  auto h = c.get("/healthz");
  CHECK_MESSAGE(h.status == 200, h.describe());
  CHECK(list_all(c).empty());
  auto types = c.get("/api/v1/types");
  REQUIRE(types.status == 200);
  for (auto& t : types.json.at("types").as_array())
    for (auto& [status, n] : t.at("counts").as_object())
      CHECK_MESSAGE(n == 0, t.at("name") << " " << status);
}

} // namespace

TEST_CASE("integration: create rejects malformed and invalid bodies") {
  taskd_process d(error_config());
  auto c = d.client();
  auto post = [&](const std::string& body) { return c.post_raw("/api/v1/tasks", body); };

  expect_error(post("{"), 400, "invalid_json");
  expect_error(post(""), 400, "invalid_json");
  expect_error(post("{\"type\": \"echo\",}"), 400, "invalid_json");
  // A number beyond double's range would be stored as Infinity, which is not JSON.
  expect_error(post(R"({"type": "echo", "payload": 15532559262804e83754})"), 400, "invalid_json");
  CHECK(list_all(c).empty());
  expect_error(post("[1, 2]"), 400, "invalid_request", "must be a JSON object");
  expect_error(post("\"echo\""), 400, "invalid_request", "must be a JSON object");
  expect_error(post("42"), 400, "invalid_request");
  expect_error(post("null"), 400, "invalid_request");

  expect_error(post("{}"), 400, "invalid_request", "type: is required");
  expect_error(post(R"({"payload": {}})"), 400, "invalid_request", "type");
  expect_error(post(R"({"type": 5})"), 400, "invalid_request", "type: must be a string");
  expect_error(post(R"({"type": null})"), 400, "invalid_request", "type");

  // Unknown type: the message names the types that do exist.
  auto unknown = post(R"({"type": "nope"})");
  expect_error(unknown, 400, "unknown_type", "nope");
  CHECK(message_of(unknown).find("echo") != std::string::npos);
  CHECK(message_of(unknown).find("noop") != std::string::npos);

  expect_error(post(R"({"type": "echo", "colour": "red"})"), 400, "invalid_request",
               "colour: unknown field");

  // Field ranges and types.
  for (const char* v : {"\"high\"", "1.5", "2000000", "-2000000", "null", "true"})
    expect_error(post(std::string(R"({"type": "echo", "priority": )") + v + "}"), 400,
                 "invalid_request", "priority");
  for (const char* v : {"0", "-1", "1001", "\"3\"", "2.5"})
    expect_error(post(std::string(R"({"type": "echo", "max_attempts": )") + v + "}"), 400,
                 "invalid_request", "max_attempts");
  for (const char* v : {"-1", "\"10\"", "1.5", "400000000000000"})
    expect_error(post(std::string(R"({"type": "echo", "delay_ms": )") + v + "}"), 400,
                 "invalid_request", "delay_ms");
  for (const char* v :
       {"\"tomorrow\"", "5", "\"2026-13-45T99:00:00Z\"", "\"9999-01-01T00:00:00Z\""})
    expect_error(post(std::string(R"({"type": "echo", "run_at": )") + v + "}"), 400,
                 "invalid_request", "run_at");
  expect_error(post(R"({"type": "echo", "delay_ms": 10, "run_at": "2030-01-01T00:00:00Z"})"), 400,
               "invalid_request", "not both");
  for (const char* v : {"0", "-5", "86400001", "\"1s\""})
    expect_error(post(std::string(R"({"type": "echo", "timeout_ms": )") + v + "}"), 400,
                 "invalid_request", "timeout_ms");
  expect_error(post(R"({"type": "echo", "mode": "parallel"})"), 400, "invalid_request", "mode");
  expect_error(post(R"({"type": "echo", "mode": 1})"), 400, "invalid_request", "mode");
  expect_error(post(R"({"type": "echo", "backoff": "fixed"})"), 400, "invalid_request", "backoff");
  expect_error(post(R"({"type": "echo", "backoff": {"type": "linear"}})"), 400, "invalid_request",
               "backoff.type");
  expect_error(post(R"({"type": "echo", "backoff": {"delay_ms": -1}})"), 400, "invalid_request",
               "backoff.delay_ms");
  expect_error(post(R"({"type": "echo", "backoff": {"jitter": 1}})"), 400, "invalid_request",
               "backoff.jitter");
  expect_error(post(R"({"type": "echo", "idempotency_key": ""})"), 400, "invalid_request",
               "idempotency_key");
  expect_error(post(R"({"type": "echo", "idempotency_key": 7})"), 400, "invalid_request",
               "idempotency_key");
  expect_error(post(R"({"type": "echo", "idempotency_key": ")" + std::string(257, 'k') + "\"}"),
               400, "invalid_request", "idempotency_key");

  expect_untouched(d);
}

TEST_CASE("integration: batch rejects empty, oversized and malformed batches") {
  taskd_process d(error_config());
  auto c = d.client();
  auto post = [&](const std::string& body) { return c.post_raw("/api/v1/tasks/batch", body); };
  auto items = [](int n) {
    json::array a;
    for (int i = 0; i < n; ++i) a.push_back(json::object{{"type", "noop"}});
    return json::serialize(json::object{{"tasks", a}});
  };

  expect_error(post(R"({"tasks": []})"), 400, "invalid_request", "must not be empty");
  // One over limits.max_batch (5): 413 and nothing created.
  expect_error(post(items(6)), 413, "payload_too_large", "max_batch");
  expect_error(post("{\"tasks\": ["), 400, "invalid_json");
  expect_error(post("[]"), 400, "invalid_request");
  expect_error(post(R"({"tasks": {}})"), 400, "invalid_request", "tasks");
  expect_error(post(R"({})"), 400, "invalid_request", "tasks");
  expect_error(post(R"({"tasks": [{"type": "noop"}], "extra": 1})"), 400, "invalid_request",
               "extra");
  expect_error(post(R"({"tasks": [{"type": "noop"}, {"type": "noop", "priority": "x"}]})"), 400,
               "invalid_request", "tasks[1].priority");

  expect_untouched(d);
}

TEST_CASE("integration: list rejects bad query parameters") {
  taskd_process d(error_config());
  auto c = d.client();
  expect_error(c.get("/api/v1/tasks?limit=0"), 400, "invalid_request", "limit");
  expect_error(c.get("/api/v1/tasks?limit=1001"), 400, "invalid_request", "limit");
  expect_error(c.get("/api/v1/tasks?limit=-1"), 400, "invalid_request", "limit");
  expect_error(c.get("/api/v1/tasks?limit=ten"), 400, "invalid_request", "limit");
  expect_error(c.get("/api/v1/tasks?after=abc"), 400, "invalid_request", "after");
  auto status = c.get("/api/v1/tasks?status=done");
  expect_error(status, 400, "invalid_request", "done");
  CHECK(message_of(status).find("pending") != std::string::npos);
  expect_error(c.get("/api/v1/tasks?colour=red"), 400, "invalid_request", "colour");
  // The boundaries themselves are fine.
  CHECK(c.get("/api/v1/tasks?limit=1").status == 200);
  CHECK(c.get("/api/v1/tasks?limit=1000").status == 200);
  expect_untouched(d);
}

TEST_CASE("integration: unknown routes are 404 and wrong methods 405") {
  taskd_process d(error_config());
  auto c = d.client();
  for (const char* target : {"/api/v1/nothing", "/api/v2/tasks", "/foo", "/api/v1",
                             "/api/v1/tasks/1/explode", "/api/v1/tasks/1/retry/again"})
    expect_error(c.get(target), 404, "not_found");

  expect_error(c.request("PUT", "/api/v1/tasks", "{}"), 405, "method_not_allowed");
  expect_error(c.request("DELETE", "/api/v1/tasks"), 405, "method_not_allowed");
  expect_error(c.get("/api/v1/tasks/batch"), 405, "method_not_allowed");
  expect_error(c.request("PATCH", "/api/v1/tasks/1", "{}"), 405, "method_not_allowed");
  expect_error(c.post_raw("/api/v1/tasks/1", "{}"), 405, "method_not_allowed");
  expect_error(c.get("/api/v1/tasks/1/retry"), 405, "method_not_allowed");
  expect_error(c.get("/api/v1/tasks/1/cancel"), 405, "method_not_allowed");
  expect_error(c.post_raw("/api/v1/types", "{}"), 405, "method_not_allowed");
  expect_error(c.post_raw("/healthz", ""), 405, "method_not_allowed");
  expect_error(c.request("DELETE", "/readyz"), 405, "method_not_allowed");
  expect_untouched(d);
}

TEST_CASE("integration: a body over server.max_body_bytes gets 413") {
  taskd_process d(error_config());
  // Valid JSON, just too big (max_body_bytes = 4096).
  std::string big = R"({"type": "echo", "payload": ")" + std::string(5000, 'x') + "\"}";
  auto c = d.client();
  expect_error(c.post_raw("/api/v1/tasks", big), 413, "payload_too_large");
  json::array many;
  for (int i = 0; i < 3; ++i)
    many.push_back(json::object{{"type", "echo"}, {"payload", std::string(2000, 'y')}});
  expect_error(c.post_raw("/api/v1/tasks/batch", json::serialize(json::object{{"tasks", many}})),
               413, "payload_too_large");
  CHECK(list_all(c).empty());
  CHECK(c.get("/healthz").status == 200);
  // A body just under the limit is accepted (proves the limit is the configured one).
  std::string fits = R"({"type": "echo", "payload": ")" + std::string(3000, 'x') + "\"}";
  auto ok = c.post_raw("/api/v1/tasks", fits);
  CHECK_MESSAGE(ok.status == 201, ok.describe());
  CHECK(list_all(c).size() == 1);
}

TEST_CASE("integration: garbage on the wire does not hurt the server") {
  taskd_process d(error_config());
  // Not HTTP at all: a 400 (or a plain close), never a crash.
  std::string reply = raw_exchange(d.port(), "GARBAGE GARBAGE GARBAGE\r\n\r\n");
  CHECK_MESSAGE((reply.empty() || reply.rfind("HTTP/1.1 400", 0) == 0), reply);
  std::string binary;
  for (int i = 0; i < 2048; ++i) binary.push_back(static_cast<char>((i * 131 + 7) % 256));
  raw_exchange(d.port(), binary);
  // A bad header line, a bad chunked body, and a body cut short by a close.
  reply = raw_exchange(d.port(), "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n");
  CHECK_MESSAGE((reply.empty() || reply.rfind("HTTP/1.1 400", 0) == 0), reply);
  raw_exchange(d.port(),
               "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "zz\r\nnot a chunk\r\n\r\n");
  raw_exchange(d.port(),
               "POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\"",
               200ms);
  raw_exchange(d.port(), "GET /healthz HTTP/9.9\r\n\r\n");
  raw_exchange(d.port(), std::string(100000, 'A') + "\r\n\r\n");
  // A well-formed request on a raw socket still works after all that.
  reply = raw_exchange(d.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_MESSAGE(reply.rfind("HTTP/1.1 200", 0) == 0, reply);
  CHECK(d.running());
  expect_untouched(d);
}

TEST_CASE("integration: a bad config is reported by key and stops startup") {
  taskd_options o;
  o.start = false;
  o.config_toml = R"(
log_level = "info"

[limits]
max_batch = 0

[types.echo]
handler = "builtin:echo"
concurrancy = 4

[types.bad]
handler = "builtin:nothing"
)";
  taskd_process d(o);
  std::string good = d.dir() + "/good.toml";
  write_file(good, config_with(error_types));

  auto ok = run_command({TASKD_BINARY, "--check-config", good});
  CHECK_MESSAGE(ok.exit_code == 0, ok.output);
  CHECK(ok.output.find("ok") != std::string::npos);
  CHECK(ok.output.find("echo") != std::string::npos);

  // Every problem at once, each line led by its dotted key.
  auto bad = run_command({TASKD_BINARY, "--check-config", d.dir() + "/taskd.toml"});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.output.find("limits.max_batch") != std::string::npos, bad.output);
  CHECK_MESSAGE(bad.output.find("types.echo.concurrancy") != std::string::npos, bad.output);
  CHECK_MESSAGE(bad.output.find("did you mean \"concurrency\"") != std::string::npos, bad.output);
  CHECK_MESSAGE(bad.output.find("types.bad.handler") != std::string::npos, bad.output);

  // Starting with it fails fast instead of running with defaults.
  auto start =
      run_command({TASKD_BINARY, "--config", d.dir() + "/taskd.toml", "--listen",
                   "127.0.0.1:" + std::to_string(free_port()), "--data-dir", d.dir() + "/data"});
  CHECK(start.exit_code == 2);
  CHECK(start.output.find("types.echo.concurrancy") != std::string::npos);
  auto missing = run_command({TASKD_BINARY, "--check-config", d.dir() + "/nope.toml"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.output.find("nope.toml") != std::string::npos);
}
