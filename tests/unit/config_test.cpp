#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <doctest/doctest.h>
#include <unistd.h>

#include "src/config/config.hpp"

using namespace taskd;

namespace {

constexpr auto npos = std::string::npos;

// Enough to be valid: the tests below add one mistake at a time.
constexpr std::string_view minimal_type = "[types.echo]\nhandler = \"builtin:echo\"\n";

std::string with_type(std::string_view type_body) {
  return "[types.echo]\nhandler = \"builtin:echo\"\n" + std::string(type_body) + "\n";
}

// The error message of a document that must fail to parse.
std::string error_of(std::string_view text) {
  auto r = parse_config(text, "test.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == errc::invalid_request);
  return r.err().message;
}

std::size_t line_count(const std::string& s) {
  std::size_t n = 1;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

// A file under the system temp directory, removed when the test ends.
struct temp_file {
  std::filesystem::path path;

  explicit temp_file(std::string_view content) {
    path = std::filesystem::temp_directory_path() /
           ("taskd_config_test_" + std::to_string(::getpid()) + ".toml");
    std::ofstream out(path, std::ios::binary);
    out << content;
  }
  ~temp_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

} // namespace

TEST_CASE("config: default config parses with the documented types") {
  CHECK_NOTHROW(default_config());
  config cfg = default_config();
  CHECK(cfg.log_level == "info");
  CHECK(cfg.server.host == "127.0.0.1");
  CHECK(cfg.server.port == 8080);
  CHECK(cfg.server.data_dir == "data");
  CHECK(cfg.server.max_body_bytes == 1048576);
  CHECK(cfg.limits.max_pending == 1000000);
  CHECK(cfg.limits.max_batch == 1000);
  CHECK(cfg.limits.shutdown_grace_ms == 10000);
  CHECK(cfg.types.size() == 6);
  CHECK(known_type_names(cfg) == "echo, fail, noop, processVoice, sendMessage, sleep");

  const type_config* echo = find_type(cfg, "echo");
  REQUIRE(echo != nullptr);
  CHECK(echo->name == "echo");
  CHECK(echo->handler == handler_kind::echo);
  CHECK(echo->concurrency == 8);
  CHECK(echo->mode == task_mode::async);
  CHECK(echo->max_attempts == 3);
  CHECK(echo->backoff.kind == backoff_kind::exponential);
  CHECK(echo->backoff.delay_ms == 1000);

  const type_config* noop = find_type(cfg, "noop");
  REQUIRE(noop != nullptr);
  CHECK(noop->handler == handler_kind::noop);
  CHECK(noop->concurrency == 50);

  const type_config* sleep = find_type(cfg, "sleep");
  REQUIRE(sleep != nullptr);
  CHECK(sleep->handler == handler_kind::sleep);
  CHECK(sleep->concurrency == 8);

  const type_config* fail = find_type(cfg, "fail");
  REQUIRE(fail != nullptr);
  CHECK(fail->handler == handler_kind::fail);
  CHECK(fail->max_attempts == 3);
  CHECK(fail->backoff.kind == backoff_kind::fixed);
  CHECK(fail->backoff.delay_ms == 100);

  const type_config* voice = find_type(cfg, "processVoice");
  REQUIRE(voice != nullptr);
  CHECK(voice->handler == handler_kind::exec);
  CHECK(voice->command == std::vector<std::string>{"scripts/examples/process-voice.sh"});
  CHECK(voice->mode == task_mode::sync);
  CHECK(voice->timeout_ms == 60000);
  CHECK(voice->max_attempts == 3);

  const type_config* send = find_type(cfg, "sendMessage");
  REQUIRE(send != nullptr);
  CHECK(send->handler == handler_kind::exec);
  CHECK(send->command == std::vector<std::string>{"scripts/examples/send-message.sh"});
  CHECK(send->concurrency == 4);
  CHECK(send->max_attempts == 5);
  CHECK(send->backoff.kind == backoff_kind::exponential);
  CHECK(send->backoff.delay_ms == 1000);
  CHECK(send->timeout_ms == 10000);
  CHECK(send->url.empty());
  CHECK_FALSE(send->max_pending.has_value());
}

TEST_CASE("config: a full custom config round-trips every key") {
  auto r = parse_config(R"(
log_level = "debug"

[server]
listen = "0.0.0.0:9090"
data_dir = "/var/lib/taskd"
max_body_bytes = 2048

[limits]
max_pending = 42
max_batch = 7
shutdown_grace_ms = 0

[types.hook]
handler = "webhook"
url = "http://example.internal:9000/hook"
concurrency = 3
mode = "sync"
max_attempts = 9
backoff = { type = "fixed", delay_ms = 250 }
timeout_ms = 1234
max_pending = 17

[types."run.me"]
handler = "exec"
command = ["/bin/echo", "hello", "world"]

[types.napper]
handler = "builtin:sleep"
)");
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
  const config& cfg = *r;
  CHECK(cfg.log_level == "debug");
  CHECK(cfg.server.host == "0.0.0.0");
  CHECK(cfg.server.port == 9090);
  CHECK(cfg.server.data_dir == "/var/lib/taskd");
  CHECK(cfg.server.max_body_bytes == 2048);
  CHECK(cfg.limits.max_pending == 42);
  CHECK(cfg.limits.max_batch == 7);
  CHECK(cfg.limits.shutdown_grace_ms == 0);
  CHECK(known_type_names(cfg) == "hook, napper, run.me");

  const type_config* hook = find_type(cfg, "hook");
  REQUIRE(hook != nullptr);
  CHECK(hook->handler == handler_kind::webhook);
  CHECK(hook->url == "http://example.internal:9000/hook");
  CHECK(hook->command.empty());
  CHECK(hook->concurrency == 3);
  CHECK(hook->mode == task_mode::sync);
  CHECK(hook->max_attempts == 9);
  CHECK(hook->backoff.kind == backoff_kind::fixed);
  CHECK(hook->backoff.delay_ms == 250);
  CHECK(hook->timeout_ms == 1234);
  REQUIRE(hook->max_pending.has_value());
  CHECK(*hook->max_pending == 17);

  const type_config* run = find_type(cfg, "run.me");
  REQUIRE(run != nullptr);
  CHECK(run->handler == handler_kind::exec);
  CHECK(run->command == std::vector<std::string>{"/bin/echo", "hello", "world"});

  // Absent keys take the member initializers of type_config.
  const type_config* napper = find_type(cfg, "napper");
  REQUIRE(napper != nullptr);
  type_config defaults;
  CHECK(napper->handler == handler_kind::sleep);
  CHECK(napper->concurrency == defaults.concurrency);
  CHECK(napper->mode == defaults.mode);
  CHECK(napper->max_attempts == defaults.max_attempts);
  CHECK(napper->backoff.kind == defaults.backoff.kind);
  CHECK(napper->backoff.delay_ms == defaults.backoff.delay_ms);
  CHECK(napper->timeout_ms == defaults.timeout_ms);
  CHECK_FALSE(napper->max_pending.has_value());
}

TEST_CASE("config: absent sections take the header defaults") {
  auto r = parse_config(minimal_type);
  REQUIRE(r.ok());
  config defaults;
  CHECK(r->log_level == defaults.log_level);
  CHECK(r->server.host == defaults.server.host);
  CHECK(r->server.port == defaults.server.port);
  CHECK(r->server.data_dir == defaults.server.data_dir);
  CHECK(r->server.max_body_bytes == defaults.server.max_body_bytes);
  CHECK(r->limits.max_pending == defaults.limits.max_pending);
  CHECK(r->limits.max_batch == defaults.limits.max_batch);
  CHECK(r->limits.shutdown_grace_ms == defaults.limits.shutdown_grace_ms);
}

TEST_CASE("config: range boundaries are inclusive") {
  auto r = parse_config(std::string(R"(
[server]
listen = "localhost:0"
max_body_bytes = 1073741824
[limits]
max_pending = 1
max_batch = 100000
shutdown_grace_ms = 3600000
)") + with_type(R"(
concurrency = 10000
max_attempts = 1000
timeout_ms = 86400000
backoff = { delay_ms = 86400000 }
max_pending = 1
)"));
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
  CHECK(r->server.port == 0);
  CHECK(r->server.max_body_bytes == 1073741824);
  CHECK(r->limits.max_batch == 100000);
  const type_config* echo = find_type(*r, "echo");
  REQUIRE(echo != nullptr);
  CHECK(echo->concurrency == 10000);
  CHECK(echo->backoff.kind == backoff_kind::exponential);
  CHECK(echo->backoff.delay_ms == 86400000);
  CHECK(echo->max_pending == std::optional<std::uint64_t>{1});
}

TEST_CASE("config: log_level must be a known level") {
  std::string msg = error_of(std::string("log_level = \"verbose\"\n") + std::string(minimal_type));
  CHECK(msg.find("log_level") == 0);
  CHECK(msg.find("verbose") != npos);
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    auto r =
        parse_config("log_level = \"" + std::string(level) + "\"\n" + std::string(minimal_type));
    CHECK_MESSAGE(r.ok(), level);
  }
}

TEST_CASE("config: server validation") {
  auto server = [](std::string_view body) {
    return error_of("[server]\n" + std::string(body) + "\n" + std::string(minimal_type));
  };
  CHECK(server("listen = \"127.0.0.1\"").find("server.listen:") == 0);
  CHECK(server("listen = \"127.0.0.1:65536\"").find("server.listen:") == 0);
  CHECK(server("listen = \":8080\"").find("server.listen:") == 0);
  CHECK(server("listen = 8080").find("server.listen: must be a string") == 0);
  CHECK(server("data_dir = \"\"").find("server.data_dir:") == 0);
  CHECK(server("max_body_bytes = 0").find("server.max_body_bytes:") == 0);
  CHECK(server("max_body_bytes = 1073741825").find("server.max_body_bytes:") == 0);
  CHECK(server("max_body_bytes = \"1MB\"").find("server.max_body_bytes:") == 0);
  CHECK(error_of("server = 1\n" + std::string(minimal_type)).find("server: must be a table") == 0);
}

TEST_CASE("config: limits validation") {
  auto limits = [](std::string_view body) {
    return error_of("[limits]\n" + std::string(body) + "\n" + std::string(minimal_type));
  };
  CHECK(limits("max_pending = 0").find("limits.max_pending:") == 0);
  CHECK(limits("max_pending = -5").find("limits.max_pending:") == 0);
  CHECK(limits("max_batch = 0").find("limits.max_batch:") == 0);
  CHECK(limits("max_batch = 100001").find("limits.max_batch:") == 0);
  CHECK(limits("shutdown_grace_ms = -1").find("limits.shutdown_grace_ms:") == 0);
  CHECK(limits("shutdown_grace_ms = 3600001").find("limits.shutdown_grace_ms:") == 0);
  CHECK(limits("max_batch = 1.5").find("limits.max_batch:") == 0);
}

TEST_CASE("config: type field validation") {
  auto type = [](std::string_view body) { return error_of(with_type(body)); };

  std::string msg = type("concurrency = 0");
  CHECK(msg == "types.echo.concurrency: must be an integer between 1 and 10000, got 0");
  CHECK(type("concurrency = 10001").find("types.echo.concurrency:") == 0);
  CHECK(type("concurrency = \"8\"").find("types.echo.concurrency:") == 0);
  CHECK(type("mode = \"later\"").find("types.echo.mode:") == 0);
  CHECK(type("mode = true").find("types.echo.mode:") == 0);
  CHECK(type("max_attempts = 0").find("types.echo.max_attempts:") == 0);
  CHECK(type("max_attempts = 1001").find("types.echo.max_attempts:") == 0);
  CHECK(type("backoff = { type = \"linear\" }").find("types.echo.backoff.type:") == 0);
  CHECK(type("backoff = { delay_ms = -1 }").find("types.echo.backoff.delay_ms:") == 0);
  CHECK(type("backoff = { delay_ms = 86400001 }").find("types.echo.backoff.delay_ms:") == 0);
  CHECK(type("backoff = \"fixed\"").find("types.echo.backoff:") == 0);
  CHECK(type("backoff = { type = \"fixed\", delay = 5 }").find("types.echo.backoff.delay:") == 0);
  CHECK(type("timeout_ms = 0").find("types.echo.timeout_ms:") == 0);
  CHECK(type("timeout_ms = 86400001").find("types.echo.timeout_ms:") == 0);
  CHECK(type("max_pending = 0").find("types.echo.max_pending:") == 0);
}

TEST_CASE("config: handler validation") {
  CHECK(error_of("[types.x]\nhandler = \"builtin:nope\"\n").find("types.x.handler:") == 0);
  CHECK(error_of("[types.x]\nhandler = 3\n").find("types.x.handler:") == 0);

  // exec needs a command: a non-empty argv of non-empty strings.
  CHECK(error_of("[types.x]\nhandler = \"exec\"\n").find("types.x.command:") == 0);
  CHECK(error_of("[types.x]\nhandler = \"exec\"\ncommand = []\n").find("types.x.command:") == 0);
  CHECK(error_of("[types.x]\nhandler = \"exec\"\ncommand = \"ls -l\"\n").find("types.x.command:") ==
        0);
  CHECK(error_of("[types.x]\nhandler = \"exec\"\ncommand = [\"ls\", \"\"]\n")
            .find("types.x.command[1]:") == 0);
  CHECK(error_of("[types.x]\nhandler = \"exec\"\ncommand = [\"ls\", 1]\n")
            .find("types.x.command[1]:") == 0);

  // webhook needs an http:// url.
  CHECK(error_of("[types.x]\nhandler = \"webhook\"\n").find("types.x.url:") == 0);
  std::string https =
      error_of("[types.x]\nhandler = \"webhook\"\nurl = \"https://example.com/\"\n");
  CHECK(https.find("types.x.url:") == 0);
  CHECK(https.find("https") != npos);
  CHECK(https.find("not supported") != npos);
  CHECK(error_of("[types.x]\nhandler = \"webhook\"\nurl = \"ftp://example.com/\"\n")
            .find("types.x.url:") == 0);
  CHECK(error_of("[types.x]\nhandler = \"webhook\"\nurl = \"http://\"\n").find("types.x.url:") ==
        0);

  // Each of command and url belongs to one handler only.
  CHECK(error_of(with_type("command = [\"ls\"]")) ==
        "types.echo.command: only allowed with handler = \"exec\"");
  CHECK(error_of(with_type("url = \"http://h/\"")) ==
        "types.echo.url: only allowed with handler = \"webhook\"");
  CHECK(error_of("[types.x]\nhandler = \"exec\"\ncommand = [\"ls\"]\nurl = \"http://h/\"\n")
            .find("types.x.url:") == 0);
}

TEST_CASE("config: type names and the types table") {
  std::string msg = error_of("[types.\"bad name\"]\nhandler = \"builtin:echo\"\n");
  CHECK(msg.find("types.\"bad name\": type name must match") == 0);
  CHECK(error_of("[types.\"\"]\nhandler = \"builtin:echo\"\n").find("types.\"\":") == 0);
  std::string long_name(65, 'a');
  CHECK(error_of("[types." + long_name + "]\n").find("types." + long_name + ":") == 0);
  CHECK(parse_config("[types." + std::string(64, 'a') + "]\nhandler = \"builtin:noop\"\n").ok());
  CHECK(parse_config("[types.\"A-z_0.9\"]\nhandler = \"builtin:noop\"\n").ok());
  CHECK(error_of("[types.x]\nconcurrency = 2\n").find("types.x.handler: is required") == 0);

  CHECK(error_of("") == "types: at least one task type must be configured");
  CHECK(error_of("[types]\n") == "types: at least one task type must be configured");
  CHECK(error_of("types = 1\n").find("types: must be a table") == 0);
  CHECK(error_of("[types]\necho = 1\n").find("types.echo: must be a table") == 0);
}

TEST_CASE("config: unknown keys are errors at every level") {
  std::string msg = error_of("[server]\nlistn = \"127.0.0.1:1\"\n" + std::string(minimal_type));
  CHECK(msg.find("server.listn: unknown key") == 0);
  CHECK(msg.find("listen") != npos); // the suggestion
  CHECK(error_of("loglevel = \"info\"\n" + std::string(minimal_type)).find("loglevel:") == 0);
  CHECK(error_of("[limit]\n" + std::string(minimal_type)).find("limit: unknown key") == 0);
  CHECK(error_of("[limits]\nmax_pendin = 1\n" + std::string(minimal_type))
            .find("limits.max_pendin: unknown key") == 0);
  CHECK(error_of(with_type("concurency = 4")).find("types.echo.concurency: unknown key") == 0);
  // Nothing close enough: no suggestion.
  CHECK(error_of(with_type("zzzzzzzz = 4")) == "types.echo.zzzzzzzz: unknown key");
}

TEST_CASE("config: every error is reported, one per line") {
  std::string msg = error_of(R"(
log_level = "loud"
[server]
listen = "nohost"
max_body_bytes = 0
[limits]
max_batch = 0
[types.echo]
handler = "builtin:echo"
concurrency = 0
mode = "later"
typo = 1
)");
  CHECK(msg.find("log_level:") != npos);
  CHECK(msg.find("server.listen:") != npos);
  CHECK(msg.find("server.max_body_bytes:") != npos);
  CHECK(msg.find("limits.max_batch:") != npos);
  CHECK(msg.find("types.echo.concurrency") != npos);
  CHECK(msg.find("types.echo.mode:") != npos);
  CHECK(msg.find("types.echo.typo: unknown key") != npos);
  CHECK(line_count(msg) == 7);
}

TEST_CASE("config: syntax errors give source:line:column") {
  std::string msg = error_of("[server]\nlisten = \"127.0.0.1:8080\"\ndata_dir = \n");
  CHECK(msg.find("test.toml:3:") == 0);
  CHECK(msg.size() > std::string("test.toml:3:1: ").size());

  auto r = parse_config("[types.echo]\n[types.echo]\n", "dup.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().message.find("dup.toml:2:") == 0);
}

TEST_CASE("config: parse_listen") {
  auto good = [](std::string_view s, std::string_view host, std::uint16_t port) {
    auto r = parse_listen(s);
    REQUIRE_MESSAGE(r.ok(), s);
    CHECK(r->first == host);
    CHECK(r->second == port);
  };
  good("127.0.0.1:8080", "127.0.0.1", 8080);
  good("localhost:0", "localhost", 0);
  good("0.0.0.0:65535", "0.0.0.0", 65535);
  good("[::1]:9000", "::1", 9000);
  good("[fe80::1%eth0]:80", "fe80::1%eth0", 80);
  good("my-host.example_1:1", "my-host.example_1", 1);

  for (std::string_view bad :
       {"", "127.0.0.1", ":8080", "[]:80", "host:", "host:http", "host:-1", "host:+80",
        "host:65536", "host:8080x", "host: 80", "host:999999999999", "http://host:80", "::1:80",
        "a b:80", "[::1]x:80"}) {
    auto r = parse_listen(bad);
    CHECK_FALSE_MESSAGE(r.ok(), bad);
    if (!r.ok()) CHECK(r.err().code == errc::invalid_request);
  }
}

TEST_CASE("config: load_config_file") {
  SUBCASE("missing file names the path") {
    std::string path = "/nonexistent/taskd-config-test/none.toml";
    auto r = load_config_file(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message.find(path) != npos);
  }
  SUBCASE("a directory is not a config file") {
    std::string path = std::filesystem::temp_directory_path().string();
    auto r = load_config_file(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message.find(path) != npos);
  }
  SUBCASE("a real file parses") {
    temp_file file("[server]\nlisten = \"127.0.0.1:7000\"\n[types.echo]\nhandler = "
                   "\"builtin:echo\"\n");
    auto r = load_config_file(file.path.string());
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.err().message));
    CHECK(r->server.port == 7000);
    CHECK(find_type(*r, "echo") != nullptr);
  }
  SUBCASE("errors in a file are reported against its path") {
    temp_file file("[types.echo]\nhandler = \n");
    auto r = load_config_file(file.path.string());
    REQUIRE_FALSE(r.ok());
    CHECK(r.err().message.find(file.path.string() + ":2:") == 0);
  }
}

TEST_CASE("config: find_type, known_type_names, handler names") {
  config cfg;
  CHECK(known_type_names(cfg).empty());
  CHECK(find_type(cfg, "echo") == nullptr);
  cfg.types["b"].name = "b";
  cfg.types["a"].name = "a";
  CHECK(known_type_names(cfg) == "a, b");
  REQUIRE(find_type(cfg, "a") != nullptr);
  CHECK(find_type(cfg, "a")->name == "a");
  CHECK(find_type(cfg, "c") == nullptr);

  CHECK(std::string(to_string(handler_kind::noop)) == "builtin:noop");
  CHECK(std::string(to_string(handler_kind::echo)) == "builtin:echo");
  CHECK(std::string(to_string(handler_kind::sleep)) == "builtin:sleep");
  CHECK(std::string(to_string(handler_kind::fail)) == "builtin:fail");
  CHECK(std::string(to_string(handler_kind::exec)) == "exec");
  CHECK(std::string(to_string(handler_kind::webhook)) == "webhook");
}

TEST_CASE("config: retention keys, defaults and ranges") {
  config defaults = default_config();
  CHECK(defaults.retention.completed_ms == 86400000);
  CHECK(defaults.retention.failed_ms == 604800000);
  auto r =
      parse_config("[retention]\ncompleted_ms = 0\ncompleted_max = 100\nchange_log_max = 5000\n"
                   "[types.a]\nhandler = \"builtin:noop\"\n");
  REQUIRE(r.ok());
  CHECK(r->retention.completed_ms == 0);
  CHECK(r->retention.completed_max == 100);
  CHECK(r->retention.change_log_max == 5000);
  auto bad = parse_config("[retention]\nchange_log_max = 10\nprune_batch = 0\nkeep = 1\n"
                          "[types.a]\nhandler = \"builtin:noop\"\n");
  REQUIRE(!bad.ok());
  CHECK(bad.err().message.find("retention.change_log_max") != std::string::npos);
  CHECK(bad.err().message.find("retention.prune_batch") != std::string::npos);
  CHECK(bad.err().message.find("retention.keep: unknown key") != std::string::npos);
}
