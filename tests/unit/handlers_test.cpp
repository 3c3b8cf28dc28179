// Tests for the blocking handlers: exec against real child processes, webhook against a
// real HTTP server on 127.0.0.1, and the two example scripts run through exec.

#include <doctest/doctest.h>

#include "src/handlers/builtin.hpp"
#include "src/handlers/handlers.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace fs = std::filesystem;
namespace json = boost::json;
using taskd::handler_outcome;
using taskd::run_exec;
using taskd::run_webhook;

namespace {

using clock_type = std::chrono::steady_clock;

long long elapsed_ms(clock_type::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - since).count();
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A fresh directory under $TMPDIR, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/taskd-handlers-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp failed: " << errno);
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

private:
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The repository root, for the example scripts: the compile-time macro, else the
// environment; nullopt when neither says.
std::optional<fs::path> source_dir() {
#ifdef TASKD_SOURCE_DIR
  return fs::path(TASKD_SOURCE_DIR);
#else
  const char* env = std::getenv("TASKD_SOURCE_DIR");
  if (env && *env) return fs::path(env);
  return std::nullopt;
#endif
}

// Whether `pid` is gone (exited) within `timeout_ms`, watched through a pidfd so there
// is no sleeping; nullopt if the kernel has no pidfd support.
std::optional<bool> exits_within(pid_t pid, int timeout_ms) {
#ifdef SYS_pidfd_open
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    if (errno == ESRCH) return true;
    return std::nullopt;
  }
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_ms);
  ::close(fd);
  return ready == 1;
#else
  (void)pid;
  (void)timeout_ms;
  return std::nullopt;
#endif
}

std::string task_json(int id, const char* type, json::value payload) {
  json::object task;
  task["id"] = id;
  task["type"] = type;
  task["payload"] = std::move(payload);
  task["status"] = "in_progress";
  task["attempts"] = 1;
  task["max_attempts"] = 3;
  return json::serialize(task);
}

} // namespace

TEST_CASE("exec: JSON on stdout is the result") {
  const std::string input = R"({"a":1,"b":[true,null,"x"],"c":{"d":2.5}})";
  const auto out = run_exec({"/bin/sh", "-c", "cat"}, input, 5000);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::parse(input));
}

TEST_CASE("exec: non-JSON stdout is kept as a trimmed string") {
  const auto out = run_exec({"/bin/sh", "-c", "printf '  hello world \\n\\n'"}, "", 5000);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::value("hello world"));
}

TEST_CASE("exec: empty or blank stdout is null") {
  const auto empty = run_exec({"true"}, "", 5000);
  REQUIRE_MESSAGE(empty.success, empty.error);
  CHECK(empty.result.is_null());

  const auto blank = run_exec({"/bin/sh", "-c", "printf ' \\n\\t\\n'"}, "", 5000);
  REQUIRE_MESSAGE(blank.success, blank.error);
  CHECK(blank.result.is_null());
}

TEST_CASE("exec: a non-zero exit fails with the code and the stderr tail") {
  const auto out =
      run_exec({"/bin/sh", "-c", "echo partial; echo '  oops  ' >&2; exit 3"}, "", 5000);
  CHECK_FALSE(out.success);
  CHECK(out.error == "exit code 3: oops");
  CHECK(out.retryable);

  const auto silent = run_exec({"false"}, "", 5000);
  CHECK_FALSE(silent.success);
  CHECK(silent.error == "exit code 1");
}

TEST_CASE("exec: only the last part of a long stderr is kept") {
  const auto out = run_exec(
      {"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a >&2; echo THE-END >&2; exit 1"}, "",
      5000);
  CHECK_FALSE(out.success);
  CHECK(starts_with(out.error, "exit code 1: aaaa"));
  CHECK(contains(out.error, "THE-END"));
  CHECK(out.error.size() <= std::string("exit code 1: ").size() + taskd::exec_stderr_tail_bytes);
}

TEST_CASE("exec: a command that cannot start is a retryable failure") {
  const auto missing = run_exec({"/nonexistent/taskd-no-such-command"}, "", 5000);
  CHECK_FALSE(missing.success);
  CHECK(missing.error ==
        "cannot start /nonexistent/taskd-no-such-command: No such file or directory");
  CHECK(missing.retryable);

  const auto not_in_path = run_exec({"taskd-no-such-command", "arg"}, "", 5000);
  CHECK_FALSE(not_in_path.success);
  CHECK(starts_with(not_in_path.error, "cannot start taskd-no-such-command: "));

  const auto not_executable = run_exec({"/etc/hostname"}, "", 5000);
  CHECK_FALSE(not_executable.success);
  CHECK(starts_with(not_executable.error, "cannot start /etc/hostname: "));
}

TEST_CASE("exec: an empty command fails without starting anything") {
  const auto none = run_exec({}, "{}", 5000);
  CHECK_FALSE(none.success);
  CHECK_FALSE(none.error.empty());
  CHECK_FALSE(none.retryable);

  const auto blank = run_exec({""}, "{}", 5000);
  CHECK_FALSE(blank.success);
  CHECK_FALSE(blank.error.empty());
}

TEST_CASE("exec: a child killed by a signal is reported with the signal's name") {
  const auto out = run_exec({"/bin/sh", "-c", "echo dying >&2; kill -SEGV $$"}, "", 5000);
  CHECK_FALSE(out.success);
  CHECK(out.error == "killed by signal 11 (SIGSEGV): dying");
  CHECK(out.retryable);
}

TEST_CASE("exec: the timeout kills the child") {
  const auto start = clock_type::now();
  const auto out = run_exec({"sleep", "10"}, "", 200);
  const auto took = elapsed_ms(start);
  CHECK_FALSE(out.success);
  CHECK(out.error == "timed out after 200 ms");
  CHECK(out.retryable);
  CHECK(took >= 190);
  CHECK(took < 1000);
}

TEST_CASE("exec: the timeout holds when the child closes its output and keeps running") {
  const auto start = clock_type::now();
  const auto out = run_exec({"/bin/sh", "-c", "exec >&- 2>&-; trap '' TERM; sleep 10"}, "", 300);
  CHECK_FALSE(out.success);
  CHECK(out.error == "timed out after 300 ms");
  CHECK(elapsed_ms(start) < 1000);
}

TEST_CASE("exec: the timeout also kills the child's own children") {
  temp_dir dir;
  const fs::path pid_file = dir.path() / "grandchild.pid";
  const auto out = run_exec(
      {"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; wait", "sh", pid_file.string()}, "", 300);
  CHECK(out.error == "timed out after 300 ms");
  const pid_t grandchild = static_cast<pid_t>(std::stol(read_file(pid_file)));
  const auto gone = exits_within(grandchild, 2000);
  if (!gone)
    MESSAGE("no pidfd support: cannot check that the grandchild is gone");
  else
    CHECK(*gone);
}

TEST_CASE("exec: background children do not hold the call after the main child exits") {
  temp_dir dir;
  const fs::path pid_file = dir.path() / "background.pid";
  const auto start = clock_type::now();
  // The background sleep inherits stdout, so EOF never comes while it lives.
  const auto out =
      run_exec({"/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; echo done", "sh", pid_file.string()},
               "", 20000);
  const auto took = elapsed_ms(start);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::value("done"));
  CHECK(took < 2000);

  const pid_t background = static_cast<pid_t>(std::stol(read_file(pid_file)));
  const auto gone = exits_within(background, 2000);
  if (!gone)
    MESSAGE("no pidfd support: cannot check that the background child is gone");
  else
    CHECK(*gone);
}

TEST_CASE("exec: a stdout flood is capped and drained") {
  const auto start = clock_type::now();
  const auto out = run_exec({"/bin/sh", "-c", "yes | head -c 5000000"}, "", 20000);
  REQUIRE_MESSAGE(out.success, out.error);
  REQUIRE(out.result.is_string());
  const auto size = out.result.as_string().size();
  CHECK(size <= taskd::exec_max_stdout_bytes);
  CHECK(size >= taskd::exec_max_stdout_bytes - 1); // the trailing newline is trimmed
  CHECK(elapsed_ms(start) < 10000);

  const auto endless = run_exec({"yes"}, "", 300);
  CHECK(endless.error == "timed out after 300 ms");
}

TEST_CASE("exec: large stdin to a child that ignores it does not hang or raise SIGPIPE") {
  sigset_t mask_before;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_before);
  const std::string input(2 * 1024 * 1024, 'x');
  for (int i = 0; i < 3; ++i) {
    const auto out = run_exec({"true"}, input, 5000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(out.result.is_null());
  }
  // The caller's signal state is untouched: same mask, no SIGPIPE left pending.
  sigset_t mask_after;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &mask_after);
  CHECK(sigismember(&mask_after, SIGPIPE) == sigismember(&mask_before, SIGPIPE));
  sigset_t pending;
  ::sigpending(&pending);
  CHECK_FALSE(sigismember(&pending, SIGPIPE));
}

TEST_CASE("exec: large stdin is written while stdout is read") {
  // Far beyond a pipe's buffer both ways: writing all input before reading would deadlock.
  const std::string text(600 * 1024, 'z');
  const std::string input = json::serialize(json::value(text));
  const auto out = run_exec({"cat"}, input, 10000);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::value(text));
}

TEST_CASE("exec: concurrent calls keep their own input, output and status") {
  constexpr int calls = 8;
  std::vector<std::future<handler_outcome>> results;
  for (int i = 0; i < calls; ++i) {
    results.push_back(std::async(std::launch::async, [i] {
      const std::string script = "cat; exit $(( $1 % 2 ))";
      return run_exec({"/bin/sh", "-c", script, "sh", std::to_string(i)},
                      "{\"n\":" + std::to_string(i) + "}", 10000);
    }));
  }
  for (int i = 0; i < calls; ++i) {
    const auto out = results[static_cast<std::size_t>(i)].get();
    if (i % 2 == 0) {
      REQUIRE_MESSAGE(out.success, out.error);
      CHECK(out.result == json::parse("{\"n\":" + std::to_string(i) + "}"));
    } else {
      CHECK_FALSE(out.success);
      CHECK(out.error == "exit code 1");
    }
  }
}

TEST_CASE("exec: no descriptors leak into the child or stay open in the caller") {
  const auto count_fds = [] {
    return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
  };
  // Opened without O_CLOEXEC, as careless code elsewhere in the server might.
  const int stray = ::open("/dev/null", O_RDONLY);
  REQUIRE(stray >= 0);
  const auto before = count_fds();
  // ls holds one descriptor of its own (3) for the directory it lists.
  const auto out = run_exec({"ls", "/proc/self/fd"}, "{}", 5000);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::value("0\n1\n2\n3"));
  run_exec({"sleep", "10"}, "", 50);
  run_exec({"/nonexistent/taskd-no-such-command"}, "", 50);
  CHECK(count_fds() == before);
  ::close(stray);
}

TEST_CASE("exec: the process-voice example synthesizes and transcodes a wav") {
  const auto root = source_dir();
  if (!root) {
    MESSAGE("TASKD_SOURCE_DIR is not set: skipping the process-voice example");
    return;
  }
  const std::string script = (*root / "scripts/examples/process-voice.sh").string();
  temp_dir dir;
  const std::string env = "TASKD_VOICE_DIR=" + dir.path().string();

  const auto spoken = run_exec({"/usr/bin/env", env, script},
                               task_json(42, "processVoice", {{"text", "hello world"}}), 30000);
  REQUIRE_MESSAGE(spoken.success, spoken.error);
  REQUIRE(spoken.result.is_object());
  const auto& voice = spoken.result.as_object();
  const std::string wav = (dir.path() / "task-42.wav").string();
  CHECK(voice.at("file") == json::value(wav));
  CHECK(voice.at("text") == json::value("hello world"));
  REQUIRE(voice.at("duration_s").is_number());
  CHECK(voice.at("duration_s").to_number<double>() > 0.0);
  CHECK(fs::file_size(wav) > 44); // more than a bare wav header

  const auto transcoded = run_exec({"/usr/bin/env", env, script},
                                   task_json(43, "processVoice", {{"file", wav}}), 30000);
  REQUIRE_MESSAGE(transcoded.success, transcoded.error);
  const auto& converted = transcoded.result.as_object();
  const std::string wav16k = (dir.path() / "task-43.wav").string();
  CHECK(converted.at("file") == json::value(wav16k));
  CHECK(converted.at("text").is_null());
  CHECK(converted.at("duration_s").to_number<double>() > 0.0);
  const auto rate = run_exec({"soxi", "-r", wav16k}, "", 5000);
  REQUIRE_MESSAGE(rate.success, rate.error);
  CHECK(rate.result == json::value(16000));

  const auto bad =
      run_exec({"/usr/bin/env", env, script}, task_json(44, "processVoice", {{"text", 5}}), 30000);
  CHECK_FALSE(bad.success);
  CHECK(bad.error == "exit code 1: process-voice: payload.text must be a string (got number)");
}

TEST_CASE("exec: the send-message example appends to the outbox") {
  const auto root = source_dir();
  if (!root) {
    MESSAGE("TASKD_SOURCE_DIR is not set: skipping the send-message example");
    return;
  }
  const std::string script = (*root / "scripts/examples/send-message.sh").string();
  temp_dir dir;
  const fs::path outbox = dir.path() / "outbox.jsonl";
  const std::vector<std::string> argv{"/usr/bin/env", "TASKD_OUTBOX=" + outbox.string(), script};

  for (int id : {7, 8}) {
    const json::object payload{{"to", "alice"}, {"body", "hi #" + std::to_string(id)}};
    const auto out = run_exec(argv, task_json(id, "sendMessage", payload), 10000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(out.result == json::parse(R"({"delivered":true,"outbox":")" + outbox.string() + "\"}"));
  }

  std::istringstream lines(read_file(outbox));
  std::vector<json::value> sent;
  for (std::string line; std::getline(lines, line);) sent.push_back(json::parse(line));
  REQUIRE(sent.size() == 2);
  const auto& first = sent[0].as_object();
  CHECK(first.at("task_id") == json::value(7));
  CHECK(first.at("to") == json::value("alice"));
  CHECK(first.at("body") == json::value("hi #7"));
  CHECK(first.at("sent_at").is_string());
  CHECK(sent[1].as_object().at("task_id") == json::value(8));

  const auto missing = run_exec(argv, task_json(9, "sendMessage", {{"to", "bob"}}), 10000);
  CHECK_FALSE(missing.success);
  CHECK(missing.error ==
        "exit code 1: send-message: payload.body is required and must be a string");
}

namespace {

struct received_request {
  std::string head; // request line and headers
  std::string body;
};

std::string http_response(std::string_view status, std::string_view content_type,
                          std::string_view body) {
  std::string out = "HTTP/1.1 " + std::string(status) + "\r\n";
  if (!content_type.empty()) out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

// Accepts one connection on 127.0.0.1 (ephemeral port), reads one request and hands it to
// the test through request(). Then it sends `response`, or, for a server that never
// answers, holds the connection open until the server is destroyed.
class one_shot_server {
public:
  explicit one_shot_server(std::string response, bool answer = true)
      : response_(std::move(response)), answer_(answer) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    request_ = request_promise_.get_future();
    thread_ = std::thread([this] { serve(); });
  }
  one_shot_server(const one_shot_server&) = delete;
  one_shot_server& operator=(const one_shot_server&) = delete;
  ~one_shot_server() {
    release_.set_value();
    ::shutdown(listen_fd_, SHUT_RDWR); // wakes accept() if nobody ever connected
    thread_.join();
    ::close(listen_fd_);
  }

  std::string url(std::string_view path_and_query = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path_and_query);
  }
  std::uint16_t port() const { return port_; }

  // The request as received; waits (bounded) for the server thread to have read it.
  received_request request() {
    REQUIRE(request_.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    return request_.get();
  }

private:
  void serve() {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return; // shut down before anyone connected
    received_request req = read_request(fd);
    request_promise_.set_value(std::move(req));
    if (answer_) {
      send_all(fd, response_);
      ::shutdown(fd, SHUT_WR);
    } else {
      release_.get_future().wait();
    }
    ::close(fd);
  }

  static received_request read_request(int fd) {
    std::string data;
    char buf[4096];
    std::size_t head_end = std::string::npos;
    std::size_t body_size = 0;
    for (;;) {
      if (head_end == std::string::npos) {
        head_end = data.find("\r\n\r\n");
        if (head_end != std::string::npos) body_size = content_length(data.substr(0, head_end));
      }
      if (head_end != std::string::npos && data.size() >= head_end + 4 + body_size) break;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      data.append(buf, static_cast<std::size_t>(n));
    }
    if (head_end == std::string::npos) return {data, {}};
    return {data.substr(0, head_end), data.substr(head_end + 4, body_size)};
  }

  static std::size_t content_length(const std::string& head) {
    const std::string lowered = lower(head);
    const auto at = lowered.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::stoul(lowered.substr(at + 17));
  }

  // MSG_NOSIGNAL: the client may hang up early (it is allowed to), which must not kill us.
  static void send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  std::string response_;
  bool answer_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::promise<received_request> request_promise_;
  std::future<received_request> request_;
  std::promise<void> release_;
  std::thread thread_;
};

} // namespace

TEST_CASE("webhook: a 2xx JSON body is the result and the task is POSTed as JSON") {
  one_shot_server server(http_response("200 OK", "application/json", R"({"ok":true,"n":3})"));
  const std::string body = R"({"id":1,"type":"notify","payload":{"x":"y"}})";
  const auto start = clock_type::now();
  const auto out = run_webhook(server.url("/hook?src=taskd"), body, 10000);
  REQUIRE_MESSAGE(out.success, out.error);
  CHECK(out.result == json::parse(R"({"ok":true,"n":3})"));
  CHECK(elapsed_ms(start) < 2000); // returns when the exchange is done, not at the deadline

  const auto req = server.request();
  CHECK(starts_with(req.head, "POST /hook?src=taskd HTTP/1.1\r\n"));
  const std::string head = lower(req.head);
  CHECK(contains(head, "\r\ncontent-type: application/json"));
  CHECK(contains(head, "\r\nuser-agent: taskd"));
  CHECK(contains(head, "\r\nhost: 127.0.0.1:" + std::to_string(server.port())));
  CHECK(req.body == body);
}

TEST_CASE("webhook: a 2xx text body is kept as a string, an empty one is null") {
  {
    one_shot_server server(http_response("202 Accepted", "text/plain", "  accepted\n"));
    const auto out = run_webhook(server.url(), "{}", 10000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(out.result == json::value("accepted"));
  }
  {
    one_shot_server server(http_response("204 No Content", "", ""));
    const auto out = run_webhook(server.url(), "{}", 10000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(out.result.is_null());
  }
}

TEST_CASE("webhook: the path defaults to / and a bare query gets one") {
  {
    one_shot_server server(http_response("200 OK", "", ""));
    const auto out = run_webhook(server.url(""), "{}", 10000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(starts_with(server.request().head, "POST / HTTP/1.1\r\n"));
  }
  {
    one_shot_server server(http_response("200 OK", "", ""));
    const auto out = run_webhook(server.url("?a=1#frag"), "{}", 10000);
    REQUIRE_MESSAGE(out.success, out.error);
    CHECK(starts_with(server.request().head, "POST /?a=1 HTTP/1.1\r\n"));
  }
}

TEST_CASE("webhook: a 4xx fails without retry and quotes the body") {
  {
    one_shot_server server(http_response("404 Not Found", "text/plain", "no such hook\n"));
    const auto out = run_webhook(server.url(), "{}", 10000);
    CHECK_FALSE(out.success);
    CHECK(out.error == "HTTP 404: no such hook");
    CHECK_FALSE(out.retryable);
  }
  {
    one_shot_server server(http_response("400 Bad Request", "text/plain", std::string(5000, 'e')));
    const auto out = run_webhook(server.url(), "{}", 10000);
    CHECK_FALSE(out.success);
    CHECK(out.error == "HTTP 400: " + std::string(512, 'e'));
    CHECK_FALSE(out.retryable);
  }
}

TEST_CASE("webhook: a 5xx fails and may be retried") {
  one_shot_server server(http_response("503 Service Unavailable", "text/plain", "busy"));
  const auto out = run_webhook(server.url(), "{}", 10000);
  CHECK_FALSE(out.success);
  CHECK(out.error == "HTTP 503: busy");
  CHECK(out.retryable);
}

TEST_CASE("webhook: a server that never answers times out") {
  one_shot_server server("", false);
  const auto start = clock_type::now();
  const auto out = run_webhook(server.url(), R"({"id":5})", 300);
  const auto took = elapsed_ms(start);
  CHECK_FALSE(out.success);
  CHECK(out.error == "timed out after 300 ms");
  CHECK(out.retryable);
  CHECK(took >= 290);
  CHECK(took < 1500);
  CHECK(server.request().body == R"({"id":5})");
}

TEST_CASE("webhook: a refused connection may be retried") {
  // A port that was just free: bound, never listened on, closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  ::close(fd);

  const auto out = run_webhook("http://127.0.0.1:" + port + "/hook", "{}", 5000);
  CHECK_FALSE(out.success);
  CHECK(starts_with(out.error, "cannot connect to 127.0.0.1:" + port + ": "));
  CHECK(contains(lower(out.error), "refused"));
  CHECK(out.retryable);
}

TEST_CASE("webhook: a malformed or oversized response is a retryable failure") {
  {
    one_shot_server server("this is not http\r\n\r\n");
    const auto out = run_webhook(server.url(), "{}", 5000);
    CHECK_FALSE(out.success);
    CHECK(starts_with(out.error, "no valid response from 127.0.0.1:"));
    CHECK(out.retryable);
  }
  {
    one_shot_server server(http_response("200 OK", "text/plain", std::string(2 << 20, 'b')));
    const auto out = run_webhook(server.url(), "{}", 5000);
    CHECK_FALSE(out.success);
    CHECK(contains(out.error, "larger than 1 MiB"));
  }
}

TEST_CASE("webhook: urls other than http://host[:port]/path are refused") {
  for (const char* url :
       {"https://example.com/hook", "ftp://example.com/", "http://", "http://:8080/x",
        "http://host:0/", "http://host:99999/", "http://host:8o/", "http://user@host/",
        "http://host/a b", "example.com/hook", ""}) {
    CAPTURE(url);
    const auto out = run_webhook(url, "{}", 1000);
    CHECK_FALSE(out.success);
    CHECK(starts_with(out.error, "unsupported url"));
    CHECK_FALSE(out.retryable);
  }
}

TEST_CASE("builtins: only noop, echo and fail run inline; the others need a task actor") {
  CHECK(taskd::is_instant_builtin(taskd::handler_kind::noop));
  CHECK(taskd::is_instant_builtin(taskd::handler_kind::echo));
  CHECK(taskd::is_instant_builtin(taskd::handler_kind::fail));
  CHECK_FALSE(taskd::is_instant_builtin(taskd::handler_kind::sleep));
  CHECK_FALSE(taskd::is_instant_builtin(taskd::handler_kind::exec));
  CHECK_FALSE(taskd::is_instant_builtin(taskd::handler_kind::webhook));
  CHECK_FALSE(taskd::is_instant_builtin(taskd::handler_kind::worker));
}
