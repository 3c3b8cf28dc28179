#include "tests/integration/harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

extern char** environ;

namespace it {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A write to a socket whose peer was killed must fail with EPIPE, not kill the test run.
const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

json::value parse_or_null(const std::string& body) {
  if (body.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return nullptr;
  return v;
}

} // namespace

// ---------------------------------------------------------------------------------------
// http_response

std::string http_response::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string http_response::describe() const {
  if (status == 0) return "transport error: " + error;
  std::string b = body.size() > 600 ? body.substr(0, 600) + "..." : body;
  return "status " + std::to_string(status) + ": " + b;
}

// ---------------------------------------------------------------------------------------
// http_client: async Beast operations on a private io_context, so every exchange has a
// real deadline (sync Beast calls cannot time out).

struct http_client::impl {
  std::string host;
  std::uint16_t port;
  ms timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  void close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
    stream.reset();
    buffer.clear();
  }

  // Runs the io_context until the started operation completed.
  void run() {
    ioc.restart();
    ioc.run();
  }

  beast::error_code connect() {
    stream.emplace(ioc);
    beast::error_code result;
    tcp::endpoint ep(net::ip::make_address(host), port);
    stream->expires_after(timeout);
    stream->async_connect(ep, [&](beast::error_code ec) { result = ec; });
    run();
    if (!result) stream->socket().set_option(tcp::no_delay(true), result);
    if (result) close();
    return result;
  }

  // One exchange on the current connection; `received_any` tells a stale keep-alive
  // connection (closed before answering) from a real failure.
  beast::error_code exchange(bhttp::request<bhttp::string_body>& req, http_response& out,
                             bool& received_any) {
    beast::error_code result;
    stream->expires_after(timeout);
    bhttp::async_write(*stream, req, [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    if (result) return result;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256u << 20);
    parser.header_limit(1u << 20);
    std::size_t before = buffer.size();
    stream->expires_after(timeout);
    bhttp::async_read(*stream, buffer, parser, [&](beast::error_code ec, std::size_t n) {
      result = ec;
      received_any = n > 0 || buffer.size() > before;
    });
    run();
    if (result) return result;
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    out.body = std::move(res.body());
    out.json = parse_or_null(out.body);
    if (!res.keep_alive()) close();
    return {};
  }
};

http_client::http_client(std::string host, std::uint16_t port, ms timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

http_client::~http_client() {
  if (impl_) impl_->close();
}

http_client::http_client(http_client&&) noexcept = default;
http_client& http_client::operator=(http_client&&) noexcept = default;

http_response http_client::request(const std::string& method, const std::string& target,
                                   const std::string& body, const std::string& content_type) {
  bhttp::request<bhttp::string_body> req;
  req.version(11);
  auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown)
    req.method_string(method);
  else
    req.method(verb);
  req.target(target);
  req.set(bhttp::field::host, impl_->host + ":" + std::to_string(impl_->port));
  req.keep_alive(true);
  if (!body.empty() || method == "POST") {
    req.set(bhttp::field::content_type, content_type);
    req.body() = body;
  }
  req.prepare_payload();

  http_response out;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = impl_->stream.has_value();
    if (!reused) {
      if (auto ec = impl_->connect()) {
        out.error = "connect: " + ec.message();
        return out;
      }
    }
    bool received_any = false;
    auto ec = impl_->exchange(req, out, received_any);
    if (!ec) return out;
    impl_->close();
    // The server may have closed an idle keep-alive connection: retry once on a new one.
    // Nothing was answered, so the request was not processed twice from our point of view.
    if (reused && !received_any) continue;
    out.error = ec.message();
    out.status = 0;
    return out;
  }
  out.error = "connection closed twice without an answer";
  return out;
}

http_response http_client::post(const std::string& target, const json::value& body) {
  return request("POST", target, json::serialize(body));
}

http_response http_request(const std::string& host, std::uint16_t port, const std::string& method,
                           const std::string& target, const std::string& body, ms timeout) {
  http_client c(host, port, timeout);
  return c.request(method, target, body);
}

// ---------------------------------------------------------------------------------------
// Plain sockets

namespace {

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads what is available until EOF, an error, or the deadline.
void read_until_closed(int fd, std::string& out, steady::time_point deadline) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
    if (left <= 0) return;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

} // namespace

std::string raw_exchange(std::uint16_t port, const std::string& bytes, ms timeout) {
  int fd = connect_loopback(port);
  if (fd < 0) return {};
  std::string out;
  if (send_all(fd, bytes)) read_until_closed(fd, out, steady::now() + timeout);
  ::close(fd);
  return out;
}

raw_connection::raw_connection(std::uint16_t port) : fd_(connect_loopback(port)) {}

raw_connection::~raw_connection() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_connection::send(const std::string& bytes) { return fd_ >= 0 && send_all(fd_, bytes); }

int count_of(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

std::string raw_connection::read_until(const std::string& needle, ms timeout, int count) {
  auto deadline = steady::now() + timeout;
  char buf[4096];
  while (fd_ >= 0 && count_of(received_, needle) < count) {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
    if (left <= 0) break;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received_.append(buf, static_cast<std::size_t>(n));
  }
  return received_;
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

// ---------------------------------------------------------------------------------------
// taskd_process

taskd_process::taskd_process(const std::string& config_toml)
    : taskd_process(taskd_options{config_toml, {}, "", true, 10s}) {}

taskd_process::taskd_process(taskd_options options) : options_(std::move(options)) {
  char tmpl[] = "/tmp/taskd-it-XXXXXX";
  char* d = ::mkdtemp(tmpl);
  REQUIRE_MESSAGE(d != nullptr, "mkdtemp failed: " << std::strerror(errno));
  dir_ = d;
  auto expand = [&](std::string& text) {
    for (auto pos = text.find("@DIR@"); pos != std::string::npos; pos = text.find("@DIR@", pos))
      text.replace(pos, 5, dir_);
  };
  if (options_.config_toml) {
    expand(*options_.config_toml);
    write_file(dir_ + "/taskd.toml", *options_.config_toml);
  }
  for (auto& kv : options_.env) expand(kv.second);
  port_ = free_port();
  if (options_.start) start();
}

taskd_process::~taskd_process() {
  if (pid_ > 0) {
    // A clean exit (SIGTERM, then SIGKILL after 5 s) so a coverage build writes its data.
    ::kill(pid_, SIGTERM);
    int st = 0;
    const auto deadline = steady::now() + 5s;
    while (::waitpid(pid_, &st, WNOHANG) == 0) {
      if (steady::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        break;
      }
      std::this_thread::sleep_for(5ms); // reaping: nothing to subscribe to
    }
    pid_ = -1;
  }
  // TASKD_IT_KEEP=1 keeps the temp dirs (logs, data) for a post-mortem.
  const char* keep = std::getenv("TASKD_IT_KEEP");
  if (!keep || std::string(keep) != "1") {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void taskd_process::spawn() {
  std::vector<std::string> args{TASKD_BINARY};
  if (options_.config_toml) {
    args.push_back("--config");
    args.push_back(dir_ + "/taskd.toml");
  }
  args.push_back("--listen");
  args.push_back("127.0.0.1:" + std::to_string(port_));
  args.push_back("--data-dir");
  args.push_back(data_dir());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Our environment with the requested variables added or replaced.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (auto& [k, v] : options_.env) replaced = replaced || k == key;
    if (!replaced) env_strings.push_back(kv);
  }
  for (auto& [k, v] : options_.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawnattr_init(&attr);
  std::string log = log_path();
  std::string cwd = options_.cwd.empty() ? dir_ : options_.cwd;
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::posix_spawn_file_actions_adddup2(&fa, 1, 2);
  // Sockets of other tests (webhook listeners, clients) must not leak into taskd.
  ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  ::posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  REQUIRE_MESSAGE(rc == 0, "posix_spawn " << TASKD_BINARY << ": " << std::strerror(rc));
  pid_ = pid;
}

void taskd_process::start() {
  REQUIRE_MESSAGE(pid_ <= 0, "taskd is already running");
  spawn();
  auto deadline = steady::now() + options_.ready_timeout;
  while (steady::now() < deadline) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("taskd exited during startup (status " << st << "); log:\n" << log());
    }
    auto r = http_request("127.0.0.1", port_, "GET", "/healthz", "", 500ms);
    if (r.status == 200) return;
    std::this_thread::sleep_for(10ms); // poll interval, not a wait for a condition
  }
  FAIL("taskd did not answer /healthz within " << options_.ready_timeout.count() << " ms; log:\n"
                                               << log());
}

void taskd_process::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

int taskd_process::terminate(ms timeout) {
  send_signal(SIGTERM);
  return wait_exit(timeout);
}

void taskd_process::send_signal(int sig) {
  REQUIRE_MESSAGE(pid_ > 0, "taskd is not running");
  ::kill(pid_, sig);
}

int taskd_process::wait_exit(ms timeout) {
  REQUIRE_MESSAGE(pid_ > 0, "taskd is not running");
  auto deadline = steady::now() + timeout;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(st)) return WEXITSTATUS(st);
      if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
      return -1;
    }
    if (steady::now() >= deadline) {
      kill9();
      FAIL("taskd did not exit within " << timeout.count() << " ms; log:\n" << log());
    }
    std::this_thread::sleep_for(5ms);
  }
}

void taskd_process::restart() {
  kill9();
  start();
}

bool taskd_process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string taskd_process::log() const {
  std::string text = read_file(log_path());
  // The tail is what matters in a failure message.
  if (text.size() > 8000) text = "..." + text.substr(text.size() - 8000);
  return text;
}

command_result run_command(const std::vector<std::string>& argv, ms timeout) {
  char tmpl[] = "/tmp/taskd-it-out-XXXXXX";
  int out_fd = ::mkstemp(tmpl);
  REQUIRE(out_fd >= 0);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  ::posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
  ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  ::close(out_fd);
  command_result out;
  if (rc != 0) {
    ::unlink(tmpl);
    FAIL("cannot run " << argv[0] << ": " << std::strerror(rc));
  }
  auto deadline = steady::now() + timeout;
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) != pid) {
    if (steady::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  out.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  out.output = read_file(tmpl);
  ::unlink(tmpl);
  return out;
}

// ---------------------------------------------------------------------------------------
// Polling

bool poll_until(const std::function<bool()>& pred, ms timeout) {
  auto deadline = steady::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

void wait_until(const std::function<bool()>& pred, ms timeout, const std::string& what,
                const std::function<std::string()>& detail) {
  if (poll_until(pred, timeout)) return;
  std::string extra = detail ? "\n" + detail() : std::string();
  FAIL("timed out after " << timeout.count() << " ms waiting for: " << what << extra);
}

// ---------------------------------------------------------------------------------------
// test_http_server

test_http_server::test_http_server(responder respond) : respond_(std::move(respond)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listen_fd_ >= 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listen_fd_, 64) == 0);
  REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

test_http_server::~test_http_server() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
}

std::string test_http_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<recorded_request> test_http_server::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

std::size_t test_http_server::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

namespace {

const char* reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

// Reads one request (headers, then Content-Length bytes of body) within 5 s.
std::optional<recorded_request> read_request(int fd) {
  std::string data;
  auto deadline = steady::now() + 5s;
  std::size_t header_end = std::string::npos;
  char buf[4096];
  auto read_more = [&] {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    data.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos)
    if (!read_more()) return std::nullopt;
  recorded_request req;
  std::istringstream head(data.substr(0, header_end));
  std::string line;
  std::getline(head, line);
  std::istringstream request_line(line);
  request_line >> req.method >> req.target;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers[lower(line.substr(0, colon))] = value;
  }
  std::size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end())
    length = std::stoul(it->second);
  std::size_t body_start = header_end + 4;
  while (data.size() < body_start + length)
    if (!read_more()) return std::nullopt;
  req.body = data.substr(body_start, length);
  return req;
}

} // namespace

void test_http_server::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (auto req = read_request(fd)) {
      canned_response res = respond_(*req);
      {
        // Recorded before answering: once taskd has the answer, the test sees the request.
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(*req);
      }
      std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) +
                        "\r\nContent-Type: " + res.content_type +
                        "\r\nContent-Length: " + std::to_string(res.body.size()) +
                        "\r\nConnection: close\r\n\r\n" + res.body;
      send_all(fd, out);
    }
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

std::string config_with(const std::string& types_toml, const std::string& limits_toml,
                        const std::string& server_toml) {
  std::string out = "log_level = \"info\"\n\n[server]\n" + server_toml + "\n\n[limits]\n";
  // A short grace keeps SIGTERM tests fast; a test may set its own.
  if (limits_toml.find("shutdown_grace_ms") == std::string::npos)
    out += "shutdown_grace_ms = 3000\n";
  out += limits_toml + "\n\n" + types_toml + "\n";
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text, bool executable) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE_MESSAGE(out.good(), "cannot write " << path);
  }
  if (executable) ::chmod(path.c_str(), 0755);
}

long long now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

long long elapsed_ms(steady::time_point since) {
  return std::chrono::duration_cast<ms>(steady::now() - since).count();
}

std::uint64_t id_of(const json::value& task) {
  if (!task.is_object()) return 0;
  auto* id = task.get_object().if_contains("id");
  if (!id) return 0;
  if (id->is_uint64()) return id->get_uint64();
  if (id->is_int64()) return static_cast<std::uint64_t>(id->get_int64());
  return 0;
}

json::value get_task(http_client& c, std::uint64_t id) {
  auto r = c.get("/api/v1/tasks/" + std::to_string(id));
  if (r.status != 200) return nullptr;
  return r.json;
}

std::string status_of(http_client& c, std::uint64_t id) {
  auto t = get_task(c, id);
  if (!t.is_object()) return "";
  auto* s = t.get_object().if_contains("status");
  return s && s->is_string() ? std::string(s->get_string()) : "";
}

double metric(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return -1;
  pos += series.size() + 2;
  return std::stod(text.substr(pos, text.find('\n', pos) - pos));
}

void wait_durable(http_client& c, std::uint64_t id, ms timeout) {
  auto r = c.get("/api/v1/tasks/" + std::to_string(id) + "/events");
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  const auto& events = r.json.at("events").as_array();
  REQUIRE(!events.empty());
  const auto newest = events.back().at("seq").to_number<double>();
  wait_until(
      [&] {
        auto m = c.get("/metrics");
        return m.status == 200 && metric("\n" + m.body, "taskd_change_log_head_sequence") >= newest;
      },
      timeout, "task " + std::to_string(id) + "'s newest change to be durable");
}

json::object wait_terminal(http_client& c, std::uint64_t id, ms timeout) {
  json::value last;
  wait_until(
      [&] {
        last = get_task(c, id);
        if (!last.is_object()) return false;
        auto s = last.at("status").as_string();
        return s == "completed" || s == "failed" || s == "abandoned" || s == "cancelled";
      },
      timeout, "task " + std::to_string(id) + " to finish",
      [&] { return "last seen: " + json::serialize(last); });
  return last.as_object();
}

json::object create_task(http_client& c, const json::value& body) {
  auto r = c.post("/api/v1/tasks", body);
  REQUIRE_MESSAGE(r.status == 201, "create " << json::serialize(body) << " -> " << r.describe());
  REQUIRE(r.json.is_object());
  return r.json.as_object();
}

std::vector<json::object> list_all(http_client& c, const std::string& query) {
  std::vector<json::object> out;
  std::string after;
  for (int page = 0; page < 10000; ++page) {
    std::string target = "/api/v1/tasks?limit=1000";
    if (!query.empty()) target += "&" + query;
    if (!after.empty()) target += "&after=" + after;
    auto r = c.get(target);
    REQUIRE_MESSAGE(r.status == 200, "list " << target << " -> " << r.describe());
    for (auto& t : r.json.at("tasks").as_array()) out.push_back(t.as_object());
    auto& next = r.json.at("next_after");
    if (next.is_null()) return out;
    after = std::to_string(id_of(json::object{{"id", next}}));
  }
  FAIL("list_all did not terminate");
  return out;
}

long long rfc3339_ms(const json::value& v) {
  if (!v.is_string()) return -1;
  std::string s(v.as_string());
  std::tm tm{};
  int millis_part = 0;
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return -1;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3) millis_part = millis_part * 10 + (*rest - '0');
      ++digits;
      ++rest;
    }
    while (digits < 3) {
      millis_part *= 10;
      ++digits;
    }
  }
  return static_cast<long long>(::timegm(&tm)) * 1000 + millis_part;
}

} // namespace it
