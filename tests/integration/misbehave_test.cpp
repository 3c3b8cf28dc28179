// Handlers that misbehave, all at once: exec commands that are missing, segfault, hang
// past their timeout, leave children behind (in their group or escaped with setsid),
// flood stdout and stderr; webhook targets that are down, answer garbage bytes, or a
// response larger than allowed. Each task ends with an error that says what happened,
// output stays bounded, and the engine answers throughout.

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

/// Accepts TCP connections and answers each with fixed bytes that are not HTTP.
class garbage_server {
public:
  explicit garbage_server(std::string reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (!stop_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buf[4096];
        (void)::recv(c, buf, sizeof buf, 0);
        (void)::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~garbage_server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

private:
  std::string reply_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string error_of(http_client& c, std::uint64_t id) {
  auto t = c.get("/api/v1/tasks/" + std::to_string(id)).json;
  return t.at("error").is_string() ? std::string(t.at("error").as_string()) : "";
}

} // namespace

TEST_CASE(
    "misbehaving handlers: each task ends with an error that says why; taskd stays responsive") {
  garbage_server garbage("SSH-2.0-OpenSSH_9.2\r\nthis is not HTTP\r\n\r\n");
  test_http_server huge([](const recorded_request&) {
    return canned_response{200, std::string(2 << 20, 'x'), "text/plain"};
  });
  const std::string closed = "http://127.0.0.1:" + std::to_string(free_port()) + "/hook";
  auto exec_type = [](const std::string& name, const std::string& script, int timeout_ms = 5000) {
    return "[types." + name + "]\nhandler = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"" + script +
           "\"]\nmax_attempts = 1\ntimeout_ms = " + std::to_string(timeout_ms) + "\n";
  };
  auto hook_type = [](const std::string& name, const std::string& url) {
    return "[types." + name + "]\nhandler = \"webhook\"\nurl = \"" + url +
           "\"\nmax_attempts = 1\ntimeout_ms = 3000\n";
  };
  std::string types =
      "[types.missing]\nhandler = \"exec\"\ncommand = [\"/nonexistent/handler\"]\nmax_attempts = "
      "1\n" +
      exec_type("segv", "kill -SEGV $$") + exec_type("hang", "sleep 60", 500) +
      exec_type("orphans", "sleep 60 & sleep 60 & echo '{\\\"ok\\\":1}'") +
      exec_type("escaped", "setsid sleep 60 & echo done") +
      exec_type("flood_out", "head -c 50000000 /dev/zero | tr '\\\\0' x") +
      exec_type("flood_err", "head -c 50000000 /dev/zero | tr '\\\\0' e >&2; exit 1") +
      hook_type("down", closed) +
      hook_type("garbage", "http://127.0.0.1:" + std::to_string(garbage.port()) + "/hook") +
      hook_type("huge", huge.url()) + "[types.echo]\nhandler = \"builtin:echo\"\n";
  taskd_process t(config_with(types));
  auto c = t.client();

  std::map<std::string, std::uint64_t> ids;
  for (const char* type : {"missing", "segv", "hang", "orphans", "escaped", "flood_out",
                           "flood_err", "down", "garbage", "huge"}) {
    auto r = c.post("/api/v1/tasks", json::object{{"type", type}, {"payload", {{"k", type}}}});
    REQUIRE_MESSAGE(r.status == 201, r.describe());
    ids[type] = r.json.at("id").to_number<std::uint64_t>();
  }
  // While they run, other work flows and the API answers promptly.
  auto probe = t.client(5s);
  std::int64_t slowest_ms = 0;
  auto finished = [&] {
    auto start = std::chrono::steady_clock::now();
    auto echo = probe.post("/api/v1/tasks", json::object{{"type", "echo"}, {"payload", 1}});
    auto page = probe.get("/api/v1/tasks?limit=20");
    slowest_ms =
        std::max<std::int64_t>(slowest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - start)
                                               .count());
    REQUIRE(echo.status == 201);
    REQUIRE(page.status == 200);
    for (auto& [type, id] : ids) {
      auto s = c.get("/api/v1/tasks/" + std::to_string(id)).json.at("status");
      if (s != "completed" && s != "failed") return false;
    }
    return true;
  };
  wait_until(finished, 60s, "every misbehaving task ends");
  MESSAGE("slowest create + list while handlers misbehaved: ", slowest_ms, " ms");
  CHECK(slowest_ms < 5000);

  auto task_of = [&](const char* type) {
    return c.get("/api/v1/tasks/" + std::to_string(ids[type])).json;
  };
  CHECK(error_of(c, ids["missing"]).find("/nonexistent/handler") != std::string::npos);
  CHECK(error_of(c, ids["segv"]).find("SIGSEGV") != std::string::npos);
  CHECK(error_of(c, ids["hang"]).find("timed out after 500 ms") != std::string::npos);
  // Children left behind do not keep the task running; the result is the command's.
  CHECK(task_of("orphans").at("status") == "completed");
  CHECK(task_of("orphans").at("result") == json::parse(R"({"ok":1})"));
  CHECK(task_of("escaped").at("status") == "completed");
  // Floods: kept bounded (stdout to 1 MiB as the result, stderr's tail in the error).
  auto out = task_of("flood_out");
  CHECK(out.at("status") == "completed");
  REQUIRE(out.at("result").is_string());
  CHECK(out.at("result").as_string().size() <= (1u << 20));
  auto err = task_of("flood_err");
  CHECK(err.at("status") == "failed");
  CHECK(error_of(c, ids["flood_err"]).find("exit code 1") != std::string::npos);
  CHECK(error_of(c, ids["flood_err"]).size() < 16384);
  CHECK(error_of(c, ids["down"]).find("cannot connect") != std::string::npos);
  CHECK(error_of(c, ids["garbage"]).find("no valid response") != std::string::npos);
  CHECK(error_of(c, ids["huge"]).find("larger than 1 MiB") != std::string::npos);
  CHECK(c.get("/healthz").status == 200);
  // No leftover processes of the escaped group hold taskd: it stops cleanly.
  CHECK(t.terminate() == 0);
}
