// Authentication and request hardening: the API token, cross-site writes, the listen
// guard, and headers the UI relies on.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string echo_type = "[types.echo]\nhandler = \"builtin:echo\"\n";

/// Sends raw request bytes (with the headers a test wants) and returns the reply.
std::string raw_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& headers, const std::string& body = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n" + headers;
  if (!body.empty())
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return raw_exchange(port, req + "\r\n" + body, 5s);
}

int status_of_reply(const std::string& reply) {
  return reply.size() > 12 ? std::stoi(reply.substr(9, 3)) : 0;
}

} // namespace

TEST_CASE("security: with an API token, the API needs it; health, readiness and the UI do not") {
  taskd_process t(config_with(echo_type, "", "api_token = \"s3cret-token\""));
  auto port = t.port();
  auto bearer = std::string("Authorization: Bearer s3cret-token\r\n");
  CHECK(status_of_reply(raw_request(port, "GET", "/api/v1/types", "")) == 401);
  auto wrong = raw_request(port, "GET", "/api/v1/types", "Authorization: Bearer nope\r\n");
  CHECK(status_of_reply(wrong) == 401);
  CHECK(wrong.find("\"code\":\"unauthorized\"") != std::string::npos);
  CHECK(wrong.find("WWW-Authenticate: Bearer") != std::string::npos);
  CHECK(status_of_reply(raw_request(port, "GET", "/api/v1/types", bearer)) == 200);
  auto created =
      raw_request(port, "POST", "/api/v1/tasks", bearer, R"({"type":"echo","payload":1})");
  CHECK(status_of_reply(created) == 201);
  CHECK(status_of_reply(raw_request(port, "POST", "/api/v1/tasks", "",
                                    R"({"type":"echo","payload":2})")) == 401);
  for (const char* open : {"/healthz", "/readyz", "/", "/admin", "/metrics"})
    CHECK_MESSAGE(status_of_reply(raw_request(port, "GET", open, "")) == 200, open);
  // Nothing was created without the token.
  auto list = raw_request(port, "GET", "/api/v1/tasks", bearer);
  CHECK(list.find("\"payload\":2") == std::string::npos);
  CHECK(list.find("\"payload\":1") != std::string::npos);
  // The event stream: refused without the token, served with it as a query parameter.
  ws_client refused(port);
  CHECK(!refused.connected());
  ws_client ok(port, "/api/v1/events?access_token=s3cret-token");
  REQUIRE_MESSAGE(ok.connected(), ok.connect_error());
  CHECK(ok.next(5s).at("event") == "hello");
  // The token never shows up in the log.
  CHECK(read_file(t.log_path()).find("s3cret-token") == std::string::npos);
}

TEST_CASE("security: /metrics can require the token; TASKD_API_TOKEN sets it") {
  taskd_options o;
  o.config_toml = config_with(echo_type, "", "metrics_require_token = true");
  o.env = {{"TASKD_API_TOKEN", "from-env"}};
  taskd_process t(o);
  CHECK(status_of_reply(raw_request(t.port(), "GET", "/metrics", "")) == 401);
  CHECK(status_of_reply(
            raw_request(t.port(), "GET", "/metrics", "Authorization: Bearer from-env\r\n")) == 200);
  CHECK(status_of_reply(raw_request(t.port(), "GET", "/healthz", "")) == 200);
}

TEST_CASE("security: cross-site writes are refused; same-origin and header-less ones pass") {
  taskd_process t(config_with(echo_type));
  auto port = t.port();
  std::string body = R"({"type":"echo","payload":1})";
  auto evil = raw_request(port, "POST", "/api/v1/tasks", "Origin: http://evil.example\r\n", body);
  CHECK(status_of_reply(evil) == 403);
  CHECK(evil.find("\"code\":\"forbidden\"") != std::string::npos);
  CHECK(status_of_reply(raw_request(port, "POST", "/api/v1/types/echo/pause", "Origin: null\r\n",
                                    "{}")) == 403);
  auto same = raw_request(port, "POST", "/api/v1/tasks",
                          "Origin: http://127.0.0.1:" + std::to_string(port) + "\r\n", body);
  CHECK(status_of_reply(same) == 201);
  CHECK(status_of_reply(raw_request(port, "POST", "/api/v1/tasks", "", body)) == 201);
  // Reads are not state-changing: an Origin does not matter.
  CHECK(status_of_reply(
            raw_request(port, "GET", "/api/v1/types", "Origin: http://evil.example\r\n")) == 200);
  CHECK(t.client().get("/api/v1/types/echo").json.at("paused") == false);
  // The UI is served with a strict Content-Security-Policy.
  auto page = raw_request(port, "GET", "/", "");
  CHECK(page.find("Content-Security-Policy: default-src 'self'; script-src 'self'") !=
        std::string::npos);
  CHECK(page.find("X-Content-Type-Options: nosniff") != std::string::npos);
}

TEST_CASE("security: a non-loopback listen address needs a token or --insecure") {
  write_file("/tmp/taskd-insecure-test.toml", config_with(echo_type));
  auto refused = run_command({TASKD_BINARY, "--config", "/tmp/taskd-insecure-test.toml", "--listen",
                              "0.0.0.0:0", "--data-dir", "/tmp/taskd-insecure-test-data"});
  CHECK(refused.exit_code == 2);
  CHECK(refused.output.find("refusing to listen on 0.0.0.0 without an API token") !=
        std::string::npos);
  CHECK(refused.output.find("--insecure") != std::string::npos);
  taskd_options o;
  o.config_toml = config_with(echo_type, "", "listen = \"0.0.0.0:0\"\napi_token = \"t\"");
  o.start = false;
  taskd_process with_token(o);
  // The harness passes --listen 127.0.0.1:PORT, which overrides: check the guard's logic
  // through --check-config-free startup paths instead: a token lets 0.0.0.0 start.
  auto started =
      run_command({"timeout", "-s", "TERM", "1", TASKD_BINARY, "--config",
                   with_token.dir() + "/taskd.toml", "--data-dir", with_token.dir() + "/data"},
                  10s);
  CHECK(started.output.find("refusing to listen") == std::string::npos);
  CHECK(started.output.find("taskd listening on http://0.0.0.0:") != std::string::npos);
}

TEST_CASE("security: a connection limit refuses the excess cleanly; slow clients are cut off") {
  taskd_process t(config_with(echo_type, "", "max_connections = 20\nrequest_timeout_ms = 1000"));
  auto port = t.port();
  // 20 idle connections hold every slot.
  std::vector<std::unique_ptr<raw_connection>> idle;
  for (int i = 0; i < 20; ++i) {
    idle.push_back(std::make_unique<raw_connection>(port));
    REQUIRE(idle.back()->connected());
  }
  raw_connection extra(port);
  auto refused = extra.read_until("}", 5s);
  CHECK(refused.find("HTTP/1.1 503") == 0);
  CHECK(refused.find("too many open connections (server.max_connections = 20)") !=
        std::string::npos);
  // Silent connections are closed after request_timeout_ms, freeing their slots; a
  // client sending its headers one byte at a time is cut off the same way.
  raw_connection slow(port);
  wait_until(
      [&] { return http_request("127.0.0.1", port, "GET", "/healthz", "", 2s).status == 200; }, 10s,
      "a slot to free up after the idle connections time out");
  REQUIRE(slow.connected());
  auto start = steady::now();
  std::string header = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  bool cut = false;
  for (int i = 0; i < 100 && !cut; ++i) {
    cut = !slow.send(std::string(1, header[static_cast<std::size_t>(i) % header.size()]));
    if (!cut) cut = slow.read_until("\n", 100ms).size() > 0 || elapsed_ms(start) > 5000;
  }
  CHECK(cut);
  CHECK(elapsed_ms(start) < 5000);
  CHECK(t.client().get("/healthz").status == 200);
}

TEST_CASE("security: secrets never appear in logs, /api/v1/types, admin info, the admin page or "
          "metrics") {
  const std::string token = "tok-SECRET-7731";
  const std::string pg_password = "pg-SECRET-4410";
  const std::string redis_password = "rd-SECRET-9902";
  auto closed = std::to_string(free_port());
  taskd_process t(
      config_with(echo_type, "", "api_token = \"" + token + "\"\nmetrics_require_token = true") +
      "[bridge]\nretry_max_ms = 200\n[bridge.postgres]\nurl = \"postgresql://taskd:" + pg_password +
      "@127.0.0.1:" + closed + "/taskd\"\n[bridge.redis]\nurl = \"redis://:" + redis_password +
      "@127.0.0.1:" + closed + "/0\"\n");
  auto port = t.port();
  auto bearer = "Authorization: Bearer " + token + "\r\n";
  CHECK(status_of_reply(raw_request(port, "POST", "/api/v1/tasks", bearer,
                                    R"({"type":"echo","payload":1})")) == 201);
  // The mirrors fail (nothing listens) and say so in the log.
  wait_until(
      [&] {
        auto log = read_file(t.log_path());
        return log.find("postgres mirror") != std::string::npos &&
               log.find("redis mirror") != std::string::npos;
      },
      10s, "both mirrors log their failure");
  std::string seen = read_file(t.log_path());
  for (const char* path : {"/api/v1/types", "/api/v1/admin/info", "/admin", "/metrics",
                           "/api/v1/tasks", "/api/v1/workers"}) {
    auto reply = raw_request(port, "GET", path, bearer);
    CHECK_MESSAGE(status_of_reply(reply) == 200, path);
    seen += reply;
  }
  // A 401 does not echo what it expected.
  seen += raw_request(port, "GET", "/api/v1/types", "Authorization: Bearer wrong\r\n");
  for (const auto& secret : {token, pg_password, redis_password})
    CHECK_MESSAGE(seen.find(secret) == std::string::npos, secret, " leaked");
}
