#pragma once
// The task record: what is stored, listed, streamed and returned by the API.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

namespace taskd {

using task_id = std::uint64_t;
using millis = std::int64_t; // milliseconds since the Unix epoch, or a duration

enum class task_status : std::uint8_t {
  pending = 0,
  in_progress = 1,
  completed = 2,
  failed = 3,
  abandoned = 4,
  cancelled = 5,
};
inline constexpr int task_status_count = 6;

enum class task_mode : std::uint8_t { async = 0, sync = 1 };

enum class backoff_kind : std::uint8_t { fixed = 0, exponential = 1 };

struct backoff_policy {
  backoff_kind kind = backoff_kind::exponential;
  millis delay_ms = 1000;
};

const char* to_string(task_status s);
const char* to_string(task_mode m);
const char* to_string(backoff_kind k);
std::optional<task_status> parse_task_status(std::string_view s);
std::optional<task_mode> parse_task_mode(std::string_view s);
std::optional<backoff_kind> parse_backoff_kind(std::string_view s);

/// Finished tasks never run again unless retried by request.
bool is_terminal(task_status s);

struct task {
  task_id id = 0;
  std::string type;
  boost::json::value payload;
  task_status status = task_status::pending;
  task_mode mode = task_mode::async;
  std::int32_t priority = 0;
  std::int32_t attempts = 0;
  std::int32_t max_attempts = 1;
  backoff_policy backoff;
  millis timeout_ms = 0;
  boost::json::value result; // null when absent
  std::optional<std::string> error;
  millis run_at = 0; // when it becomes ready (creation time unless delayed)
  millis created_at = 0;
  millis updated_at = 0;
  std::optional<millis> started_at;
  std::optional<millis> finished_at;
  std::optional<std::string> idempotency_key;
  /// What the handler reported about the last finished attempt ({"exit_code": 2},
  /// {"signal": 9, ...}, {"http_status": 503}); null for builtins. Not in the API object:
  /// served by GET /api/v1/tasks/{id}/attempts.
  boost::json::value attempt_detail;
  /// The task's log: an exec handler's stderr lines, "[attempt N] ..." per line, the
  /// oldest dropped past task_log_max_bytes. Served by GET /api/v1/tasks/{id}/logs.
  std::string log;
  /// Remote workers (handler = "worker"): the lease of the attempt in progress ("" when
  /// none), who holds it and until when; progress 0..100 from its heartbeats. The token
  /// is never in the API object (only the lease answer has it).
  std::string lease_token;
  std::string worker;
  millis lease_expires_at = 0;
  std::optional<std::int32_t> progress;
  /// What a protocol adapter keeps with the task (Faktory: retry, reserve_for, queue,
  /// custom); null when none. Not in the API object.
  boost::json::value meta;
  /// The change-log seqs of the task's logged changes, oldest first: its timeline (GET
  /// /api/v1/tasks/{id}/events). The newest task_timeline_max are kept. Not in the API
  /// object. Kept in the record rather than in an index of its own, which cost a memtable
  /// insert per change and a seek per deleted task.
  std::vector<std::uint64_t> change_seqs;
};

inline constexpr std::size_t task_log_max_bytes = 16 * 1024;
inline constexpr std::size_t task_timeline_max = 1000;

/// The API's task object (timestamps RFC3339 UTC with milliseconds, absent values null).
boost::json::object to_json(const task& t);
/// `boost::json::serialize(to_json(t))`, written straight into `out`: every answer that
/// carries tasks (a batch create carries a thousand) spent more on building and freeing
/// the object tree than on anything else on its I/O thread.
void append_task_json(std::string& out, const task& t);

/// Storage encoding.
std::string encode_task(const task& t);
/// The same, appended to `out`.
void append_encoded_task(std::string& out, const task& t);
/// The inverse of `encode_task`. Returns nullopt on a corrupt record.
std::optional<task> decode_task(std::string_view bytes);

} // namespace taskd
