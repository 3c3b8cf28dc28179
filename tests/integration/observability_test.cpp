// Debugging one task and the logs, against a real taskd: attempt history with handler
// detail (exit code, signal, HTTP status), task logs from exec stderr, JSON log files
// with structured fields, the access log and runtime level changes.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

std::string task_path(const json::value& t, const std::string& what) {
  return "/api/v1/tasks/" + std::to_string(id_of(t)) + "/" + what;
}

/// Every JSON line of a log file, parsed; a line that is not JSON fails the test.
std::vector<json::object> json_lines(const std::string& path) {
  std::vector<json::object> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    REQUIRE_MESSAGE((!ec && v.is_object()), "not a JSON object line in " << path << ": " << line);
    out.push_back(v.as_object());
  }
  return out;
}

bool has_line(const std::vector<json::object>& lines, const std::string& msg, std::uint64_t id) {
  for (const auto& l : lines)
    if (l.at("msg") == msg.c_str() && l.contains("task_id") &&
        l.at("task_id").to_number<std::uint64_t>() == id)
      return true;
  return false;
}

} // namespace

TEST_CASE("debugging: attempts carry exit codes and signals; stderr becomes the task's log") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.exits]
handler = "exec"
command = ["@DIR@/exits.sh"]
max_attempts = 2
backoff = { type = "fixed", delay_ms = 10 }

[types.killed]
handler = "exec"
command = ["@DIR@/killed.sh"]
max_attempts = 1

[types.ok]
handler = "exec"
command = ["/bin/cat"]
)");
  o.start = false;
  taskd_process d(o);
  write_file(d.dir() + "/exits.sh",
             "#!/bin/sh\necho \"starting\" >&2\necho \"<b>bad</b> input\" >&2\nexit 3\n", true);
  write_file(d.dir() + "/killed.sh", "#!/bin/sh\necho dying >&2\nkill -9 $$\n", true);
  d.start();
  auto c = d.client();
  auto e = create_task(c, json::object{{"type", "exits"}});
  auto k = create_task(c, json::object{{"type", "killed"}});
  auto ok = create_task(c, json::object{{"type", "ok"}, {"payload", {{"x", 1}}}});
  for (auto& t : {e, k, ok}) wait_terminal(c, id_of(t), 20s);

  auto r = c.get(task_path(e, "attempts"));
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  auto& attempts = r.json.at("attempts").as_array();
  REQUIRE(attempts.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(attempts[i].at("attempt") == static_cast<int>(i + 1));
    CHECK(attempts[i].at("outcome") == "failed");
    CHECK(attempts[i].at("detail").at("exit_code") == 3);
    CHECK(attempts[i].at("duration_ms").to_number<long long>() >= 0);
    CHECK(std::string(attempts[i].at("error").as_string()).find("exit code 3") == 0);
  }
  auto logs = c.get(task_path(e, "logs"));
  REQUIRE(logs.status == 200);
  auto& lines = logs.json.at("lines").as_array();
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "[attempt 1] starting");
  CHECK(lines[1] == "[attempt 1] <b>bad</b> input");
  CHECK(lines[3] == "[attempt 2] <b>bad</b> input");

  auto killed = c.get(task_path(k, "attempts")).json.at("attempts").as_array();
  REQUIRE(killed.size() == 1);
  CHECK(killed[0].at("detail").at("signal") == 9);
  CHECK(killed[0].at("detail").at("signal_name") == "SIGKILL");

  auto fine = c.get(task_path(ok, "attempts")).json.at("attempts").as_array();
  REQUIRE(fine.size() == 1);
  CHECK(fine[0].at("outcome") == "completed");
  CHECK(fine[0].at("detail").at("exit_code") == 0);
  CHECK(fine[0].at("error").is_null());
  CHECK(c.get(task_path(ok, "logs")).json.at("lines").as_array().empty());
  CHECK(c.get("/api/v1/tasks/99999/attempts").status == 404);
  CHECK(c.get("/api/v1/tasks/99999/logs").status == 404);
}

TEST_CASE("debugging: a webhook attempt records the HTTP status") {
  test_http_server hook([](const recorded_request&) { return canned_response{503, "{}"}; });
  taskd_process d(config_with(R"(
[types.hook]
handler = "webhook"
url = ")" + hook.url("/x") + R"("
max_attempts = 1
)"));
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "hook"}});
  wait_terminal(c, id_of(t), 20s);
  auto a = c.get(task_path(t, "attempts")).json.at("attempts").as_array();
  REQUIRE(a.size() == 1);
  CHECK(a[0].at("detail").at("http_status") == 503);
  CHECK(a[0].at("outcome") == "failed");
}

TEST_CASE(
    "logs: JSON lines per transition in combined.log, errors in error.log, level at runtime") {
  taskd_process d(config_with(R"(
[types.echo]
handler = "builtin:echo"

[types.fail]
handler = "builtin:fail"
max_attempts = 1

[logging]
console = "json"
max_file_bytes = 4096
max_files = 2
)"));
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "echo"}});
  auto f =
      create_task(c, json::object{{"type", "fail"}, {"payload", {{"message", "bad \"thing\""}}}});
  wait_terminal(c, id_of(t), 10s);
  wait_terminal(c, id_of(f), 10s);
  const std::string combined = d.data_dir() + "/logs/combined.log";
  wait_until(
      [&] {
        auto lines = json_lines(combined);
        return has_line(lines, "task completed", id_of(t)) &&
               has_line(lines, "task failed", id_of(f));
      },
      10s, "transition lines in combined.log");
  auto lines = json_lines(combined);
  for (const auto& l : lines) {
    CHECK(l.contains("ts"));
    CHECK(l.contains("level"));
    CHECK(l.contains("msg"));
  }
  CHECK(has_line(lines, "task created", id_of(t)));
  CHECK(has_line(lines, "task started", id_of(t)));
  for (const auto& l : lines) {
    if (l.at("msg") != "task failed") continue;
    CHECK(l.at("type") == "fail");
    CHECK(l.at("error") == "bad \"thing\"");
    CHECK(l.at("attempt") == 1);
    CHECK(l.contains("duration_ms"));
  }
  // The console got the same, as JSON lines too.
  CHECK(d.log().find("\"msg\":\"task completed\"") != std::string::npos);

  // No access log at info; at debug every request gets one.
  CHECK(c.get("/api/v1/admin/log-level").json.at("level") == "info");
  auto r = c.request("PUT", "/api/v1/admin/log-level", R"({"level":"debug"})");
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  CHECK(r.json.at("level") == "debug");
  c.get("/api/v1/tasks/" + std::to_string(id_of(t)));
  wait_until(
      [&] {
        for (const auto& l : json_lines(combined))
          if (l.at("msg") == "http request" && l.at("route") == "/api/v1/tasks/{id}" &&
              l.at("status") == 200)
            return true;
        return false;
      },
      10s, "an access-log line");
  CHECK(c.request("PUT", "/api/v1/admin/log-level", R"({"level":"loud"})").status == 400);

  // error.log has errors only: none so far (a failed task is a normal outcome, at info).
  const std::string errors = d.data_dir() + "/logs/error.log";
  for (const auto& l : json_lines(errors)) CHECK(l.at("level") == "error");

  // Rotation: files stay bounded (4 KiB each, 2 rotated kept) under a stream of requests.
  for (int i = 0; i < 200; ++i) c.get("/api/v1/tasks/" + std::to_string(id_of(t)));
  wait_until(
      [&] {
        return std::filesystem::exists(combined + ".1") ||
               std::filesystem::exists(d.data_dir() + "/logs/combined.1.log");
      },
      10s, "a rotated log file");
  std::uintmax_t total = 0;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(d.data_dir() + "/logs")) {
    if (entry.path().filename().string().rfind("combined", 0) != 0) continue;
    total += entry.file_size();
    ++files;
  }
  CHECK(files <= 3);
  CHECK(total <= 3 * 4096 + 2048);
}
