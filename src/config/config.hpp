#pragma once
// taskd's configuration: the TOML file, the embedded default, and their validation.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// worker: taskd never runs these tasks itself; remote workers lease them (HTTP API).
enum class handler_kind { noop, echo, sleep, fail, exec, webhook, worker };

const char* to_string(handler_kind k);

struct type_config {
  std::string name;
  handler_kind handler = handler_kind::noop;
  std::vector<std::string> command; // exec: argv, never a shell string
  std::string url;                  // webhook: http://host[:port]/path
  std::int32_t concurrency = 8;     // async tasks of this type running at once
  task_mode mode = task_mode::async;
  std::int32_t max_attempts = 3;
  backoff_policy backoff{backoff_kind::exponential, 1000};
  millis timeout_ms = 30000;
  std::optional<std::uint64_t> max_pending; // per-type admission bound
  std::string queue = "default";            // worker types: the Faktory queue FETCH takes
};

struct server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string data_dir = "data";
  std::size_t max_body_bytes = 1048576;
  /// When set (or env TASKD_API_TOKEN), /api requests and the event stream need
  /// "Authorization: Bearer <token>"; /metrics too with metrics_require_token.
  std::string api_token;
  bool metrics_require_token = false;
  std::size_t max_connections = 10000; // open HTTP connections; more get 503 and are closed
  millis request_timeout_ms = 60000;   // a request must arrive within this; idle keep-alive too
};

struct limits_config {
  std::uint64_t max_pending = 1000000; // admission bound across all types
  std::size_t max_batch = 1000;        // tasks per POST /api/v1/tasks/batch
  millis shutdown_grace_ms = 10000;    // SIGTERM: how long running tasks may finish
  std::uint64_t min_free_disk_mb = 64; // writes get 507 while the data disk has less free
};

/// How long, and how many, finished tasks are kept. 0 means no bound of that kind.
/// failed_* also applies to abandoned tasks.
struct retention_config {
  millis completed_ms = 86400000; // a day
  std::uint64_t completed_max = 0;
  millis failed_ms = 604800000; // a week
  std::uint64_t failed_max = 0;
  millis cancelled_ms = 604800000; // a week
  std::uint64_t cancelled_max = 0;
  std::uint64_t change_log_max = 1000000; // change-log entries kept (the replay window)
  std::size_t prune_batch = 500;          // tasks deleted per write
  millis prune_interval_ms = 1000;        // pause between pruning passes
};

/// The WebSocket event stream (GET /api/v1/events).
struct events_config {
  std::size_t max_queued = 4096;  // messages queued per subscriber; over it: reset
  millis idle_timeout_ms = 30000; // pings at half of it; a peer silent this long is dropped
  std::size_t max_subscribers = 1000;
};

/// Log sinks (the level is `log_level`).
struct logging_config {
  std::string dir;                           // "" = <data_dir>/logs
  std::string console = "text";              // text | json | off
  bool files = true;                         // combined.log and error.log under `dir`
  std::size_t max_file_bytes = 10 * 1048576; // rotate at this size
  std::size_t max_files = 5;                 // rotated files kept per log
};

/// A Redis endpoint: redis://[[user]:password@]host[:port][/db].
struct redis_endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;
  std::string password;
  int db = 0;
};
result<redis_endpoint> parse_redis_url(std::string_view url);

/// [bridge.postgres]: mirror every task into a PostgreSQL table.
struct postgres_mirror_config {
  std::string url; // libpq URL or conninfo; env TASKD_PG_URL overrides it
  std::string table = "tasks";
  std::size_t batch = 500; // change-log entries per transaction
};

/// [bridge.redis]: mirror every task into a Redis hash and every change into a stream.
struct redis_mirror_config {
  std::string url; // env TASKD_REDIS_URL overrides it
  redis_endpoint endpoint;
  std::string prefix = "taskd";
  std::uint64_t stream_maxlen = 100000; // XADD MAXLEN ~
  std::size_t batch = 500;
};

/// [bridge]: the mirrors, each optional. A failing mirror is retried with capped
/// exponential backoff from retry_min_ms to retry_max_ms. After writing less than a full
/// batch, a mirror waits linger_ms before the next write, so a trickle of changes costs a
/// sink transaction per linger_ms, not one per change.
struct bridge_config {
  std::optional<postgres_mirror_config> postgres;
  std::optional<redis_mirror_config> redis;
  millis linger_ms = 20;
  millis retry_min_ms = 100;
  millis retry_max_ms = 10000;
};

/// [faktory]: the Faktory worker protocol on its own port (absent: no listener).
struct faktory_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7419;
  std::string password;     // empty: no password (clients send none)
  bool allow_flush = false; // FLUSH deletes every finished task; refused unless enabled
  bool auto_types = false;  // PUSH of an unknown jobtype declares it (a default worker type)
};

class auto_type_registry;

struct config {
  server_config server;
  logging_config logging;
  limits_config limits;
  retention_config retention;
  events_config events;
  bridge_config bridge;
  std::optional<faktory_config> faktory;
  std::string log_level = "info"; // trace|debug|info|warn|error|critical|off
  std::map<std::string, type_config, std::less<>> types;
  /// Set when [faktory] auto_types is on: types declared at run time (find_type sees them).
  std::shared_ptr<auto_type_registry> auto_types;
};

/// Parses and validates TOML text. On failure the message lists every problem, one
/// per line, each starting with the dotted key that is wrong (`types.echo.concurrency: ...`).
result<config> parse_config(std::string_view toml_text, std::string_view source_name = "config");

/// Reads and parses a file; a missing or unreadable file is an error naming the path.
result<config> load_config_file(const std::string& path);

/// The embedded default (config/taskd.toml compiled into the binary).
config default_config();

/// Validates `host:port` (port 0..65535; 0 lets the OS choose).
result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen);

/// A configured type, else one declared at run time (auto_types), else nullptr.
const type_config* find_type(const config& cfg, std::string_view name);

/// [A-Za-z0-9_.-]{1,64}
bool valid_type_name(std::string_view name);

/// A worker type's Faktory queue: non-empty, no spaces (FETCH lists queues by spaces).
bool valid_queue_name(std::string_view name);

/// Every type: the configured ones in name order, then those declared at run time.
std::vector<const type_config*> all_types(const config& cfg);

/// "echo, processVoice, sendMessage": for error messages naming the known types.
std::string known_type_names(const config& cfg);

} // namespace taskd
