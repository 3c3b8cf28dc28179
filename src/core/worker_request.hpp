#pragma once
// The remote-worker API's requests (POST /api/v1/workers/lease, /api/v1/tasks/{id}/
// heartbeat|complete|fail|log), validated here: every limit explicit.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "src/config/config.hpp"
#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// POST /api/v1/workers/lease: up to `max` tasks of `types` (worker types), waiting up
/// to `wait_ms` for the first; each leased for `lease_ms`.
struct lease_request {
  std::string worker;
  std::vector<std::string> types;
  std::size_t max = 1;
  millis wait_ms = 30000;
  millis lease_ms = 60000;
};
/// The leased tasks, each with its lease_token and lease_expires_at.
using lease_reply = result<std::vector<task>>;

/// A worker's report on its lease: heartbeat, complete, fail or log.
enum class worker_report { heartbeat, complete, fail, log };
struct worker_call {
  worker_report kind = worker_report::heartbeat;
  task_id id = 0;
  std::string token;
  std::optional<int> progress;    // heartbeat
  std::optional<millis> lease_ms; // heartbeat: default the lease's own length
  boost::json::value result;      // complete
  std::string error;              // fail
  bool retryable = true;          // fail
  std::vector<std::string> lines; // log
};

/// GET /api/v1/workers: who leased lately.
struct worker_info {
  std::string id;
  millis last_seen = 0;
  std::set<std::string> types;
  std::size_t in_flight = 0;
};
using worker_list = std::vector<worker_info>;

inline constexpr std::size_t max_lease_tasks = 1000; // "max"
inline constexpr millis max_lease_wait_ms = 50000;   // "wait_ms" (long-poll)
inline constexpr millis min_lease_ms = 1000;         // "lease_ms"
inline constexpr millis max_lease_ms = 86400000;
inline constexpr std::size_t max_worker_id_bytes = 200;      // "worker"
inline constexpr std::size_t max_worker_log_lines = 1000;    // "lines" per call
inline constexpr std::size_t max_worker_error_bytes = 65536; // "error"

/// The body of POST /api/v1/workers/lease; every type must be configured with
/// handler = "worker".
result<lease_request> parse_lease_request(const boost::json::value& body, const config& cfg);

/// The body of POST /api/v1/tasks/{id}/<kind> for a worker's report.
result<worker_call> parse_worker_call(worker_report kind, task_id id,
                                      const boost::json::value& body);

} // namespace taskd
