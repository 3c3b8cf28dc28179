#pragma once
// Integration-test harness: runs the real taskd binary in a temp dir, talks HTTP to it,
// and polls for conditions with deadlines. Beast stays in harness.cpp so the test files
// compile quickly.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

namespace it {

namespace json = boost::json;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------
// HTTP client

struct http_response {
  int status = 0;                             // 0: transport error, see `error`
  std::string error;                          // what went wrong at the transport level
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
  json::value json; // the body parsed, null when it is not JSON

  std::string header(const std::string& name) const; // "" when absent
  /// "status 409: {...}" for failure messages.
  std::string describe() const;
};

/// One keep-alive connection, opened lazily and reopened when the server closed it.
/// Blocking calls, but every exchange has a deadline (`timeout`): a hung server gives
/// status 0 instead of a hung test. Not thread-safe: one client per thread.
class http_client {
public:
  http_client(std::string host, std::uint16_t port, ms timeout = 20s);
  ~http_client();
  http_client(http_client&&) noexcept;
  http_client& operator=(http_client&&) noexcept;

  http_response request(const std::string& method, const std::string& target,
                        const std::string& body = "",
                        const std::string& content_type = "application/json");
  http_response get(const std::string& target) { return request("GET", target); }
  http_response del(const std::string& target) { return request("DELETE", target); }
  http_response post(const std::string& target, const json::value& body);
  http_response post_raw(const std::string& target, const std::string& body) {
    return request("POST", target, body);
  }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A one-off request on a fresh connection.
http_response http_request(const std::string& host, std::uint16_t port, const std::string& method,
                           const std::string& target, const std::string& body = "",
                           ms timeout = 20s);

/// Sends raw bytes on a fresh TCP connection and returns what came back until the server
/// closed the connection or `timeout` passed.
std::string raw_exchange(std::uint16_t port, const std::string& bytes, ms timeout = 3s);

/// A plain TCP connection for protocol-level tests (several steps on one socket).
class raw_connection {
public:
  explicit raw_connection(std::uint16_t port);
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  /// Everything received so far once it contains `needle` `count` times, the peer closed,
  /// or `timeout` passed.
  std::string read_until(const std::string& needle, ms timeout, int count = 1);

private:
  int fd_ = -1;
  std::string received_;
};

/// A WebSocket client (Beast) for the event stream. A reader thread queues every message;
/// `next` waits for one with a deadline, so a silent server fails a test instead of
/// hanging it. Messages are parsed JSON.
class ws_client {
public:
  explicit ws_client(std::uint16_t port, const std::string& target = "/api/v1/events");
  ~ws_client();
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;
  bool connected() const;
  const std::string& connect_error() const;
  bool send(const std::string& text);
  /// The next message, or null at the deadline or once the connection is closed.
  json::value next(ms timeout = 10s);
  /// Reads until `pred` holds for a message (returned) or fails the test at the deadline;
  /// `seen`, if given, gets every message read (the match included).
  json::value next_matching(const std::function<bool(const json::value&)>& pred, ms timeout,
                            const std::string& what, std::vector<json::value>* seen = nullptr);
  bool closed() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// VmRSS of a process in KiB (0 if unreadable).
std::uint64_t rss_kib(pid_t pid);

/// Occurrences of `needle` in `haystack`.
int count_of(const std::string& haystack, const std::string& needle);

/// A port that was free a moment ago (bind port 0, read it, close).
std::uint16_t free_port();

// ---------------------------------------------------------------------------------------
// The taskd process

struct taskd_options {
  /// TOML written to <dir>/taskd.toml and passed with --config; nullopt runs the
  /// embedded default config (no --config). "@DIR@" is replaced by the temp dir here and
  /// in `env` values, so configs can name scripts the test writes there.
  std::optional<std::string> config_toml;
  std::vector<std::pair<std::string, std::string>> env; // added to (or replacing) ours
  std::string cwd;                                      // empty: the temp dir
  bool start = true;                                    // start in the constructor
  ms ready_timeout = 10s;
};

class taskd_process {
public:
  explicit taskd_process(taskd_options options);
  /// Shorthand: config text, started at once.
  explicit taskd_process(const std::string& config_toml);
  ~taskd_process();
  taskd_process(const taskd_process&) = delete;
  taskd_process& operator=(const taskd_process&) = delete;

  /// Spawns taskd and waits until GET /healthz answers 200; fails the test otherwise.
  void start();
  void kill9();
  /// SIGTERM and wait; returns the exit code (128 + signal when killed by one). Fails the
  /// test if the process is still running after `timeout` (and then kills it).
  int terminate(ms timeout = 20s);
  /// Sends `sig` without waiting (e.g. SIGTERM, then probe the draining server).
  void send_signal(int sig);
  /// Waits for the process to exit; returns as terminate() does.
  int wait_exit(ms timeout = 20s);
  /// Stops (kill -9) if still running, then starts on the same data dir and port.
  void restart();
  bool running();

  const std::string& dir() const { return dir_; }
  std::string data_dir() const { return dir_ + "/data"; }
  std::string log_path() const { return dir_ + "/taskd.log"; }
  std::string log() const;
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  http_client client(ms timeout = 20s) const { return http_client("127.0.0.1", port_, timeout); }

private:
  void spawn();
  taskd_options options_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// Runs a command to completion (no shell), stdout and stderr captured together.
struct command_result {
  int exit_code = -1; // 128 + signal when killed by one
  std::string output;
};
command_result run_command(const std::vector<std::string>& argv, ms timeout = 10s);

// ---------------------------------------------------------------------------------------
// Polling

/// Polls `pred` every few ms; at the deadline fails the test (FAIL) naming `what` and
/// adding `detail()` when given, so a timeout says what state things were in.
void wait_until(const std::function<bool()>& pred, ms timeout, const std::string& what,
                const std::function<std::string()>& detail = {});

/// Like wait_until but only reports: true if `pred` held before the deadline.
bool poll_until(const std::function<bool()>& pred, ms timeout);

// ---------------------------------------------------------------------------------------
// A tiny HTTP server for webhook tests (plain sockets, one thread, one request per
// connection).

struct recorded_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
};

struct canned_response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class test_http_server {
public:
  using responder = std::function<canned_response(const recorded_request&)>;
  explicit test_http_server(responder respond);
  ~test_http_server();
  test_http_server(const test_http_server&) = delete;
  test_http_server& operator=(const test_http_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;
  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;

private:
  void serve();
  responder respond_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<recorded_request> requests_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
// Small helpers

/// A config: [server] with `server_toml`, [limits] with `limits_toml` (plus a short
/// shutdown_grace_ms unless given), then `types_toml` ([types.X] sections).
std::string config_with(const std::string& types_toml, const std::string& limits_toml = "",
                        const std::string& server_toml = "");

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text, bool executable = false);

/// Nanoseconds since the epoch (matches `date +%s%N` in generated scripts).
long long now_ns();
long long elapsed_ms(steady::time_point since);

/// The task with `id`, or a null value when the request failed.
json::value get_task(http_client& c, std::uint64_t id);
std::string status_of(http_client& c, std::uint64_t id);
/// The value of one series in Prometheus text (`text` starting with a newline), -1 when
/// absent.
double metric(const std::string& text, const std::string& series);
/// A GET shows a transition as soon as it is written, a moment before it is synced: a
/// kill -9 in between takes it back. Waits until the task's newest change is durable (the
/// change-log head on /metrics only moves past synced changes).
void wait_durable(http_client& c, std::uint64_t id, ms timeout = 10s);
/// Polls until the task is in a terminal status; returns the final task object.
json::object wait_terminal(http_client& c, std::uint64_t id, ms timeout);
/// Creates one task, requiring 201; returns the task object.
json::object create_task(http_client& c, const json::value& body);
/// All tasks via paging (limit 1000) optionally filtered by a query string ("status=x").
std::vector<json::object> list_all(http_client& c, const std::string& query = "");
std::uint64_t id_of(const json::value& task);
/// Parses an RFC3339 timestamp with optional milliseconds into ms since the epoch.
long long rfc3339_ms(const json::value& v);

} // namespace it
