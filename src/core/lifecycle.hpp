#pragma once
// The task state machine as plain functions. Each either applies a legal transition to
// the record and returns ok, or returns `conflict` and leaves the record untouched.
//
//   pending -> in_progress -> completed
//                          -> pending (failed attempt, attempts left, after backoff)
//                          -> failed (last attempt, or not retryable)
//                          -> pending | abandoned (stalled: the runner was lost)
//   pending -> cancelled
//   failed | abandoned -> pending (retry by request, attempts reset)

#include <string>

#include <boost/json/value.hpp>

#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// Delay before the next attempt after attempt number `failed_attempt` (1-based) failed.
/// exponential: delay_ms * 2^(failed_attempt-1); fixed: delay_ms. Capped at 30 days.
millis backoff_delay(const backoff_policy& policy, int failed_attempt);

status start_attempt(task& t, millis now);
status complete_attempt(task& t, boost::json::value result, millis now);

enum class attempt_end { retry_scheduled, failed };

/// A failed attempt: back to pending at now + backoff if attempts remain and the error is
/// retryable, otherwise failed. `error` is kept on the task either way.
result<attempt_end> fail_attempt(task& t, std::string error, bool retryable, millis now);

/// Errors left by stall_attempt start with this, so a stalled attempt can be told apart.
bool is_stall_error(const std::string& error);

/// The attempt's runner was lost (process died, lease expired): retried at once if attempts
/// remain, otherwise abandoned.
result<attempt_end> stall_attempt(task& t, std::string reason, millis now);

status cancel_task(task& t, millis now);
status retry_task(task& t, millis now);

/// Keeps what a finished attempt's handler reported: its detail (exit code, signal, HTTP
/// status) replaces the last one; its output lines join the task's log as
/// "[attempt N] line", the oldest lines dropped past task_log_max_bytes.
void record_attempt_output(task& t, boost::json::value detail, std::string_view output);

/// A pending task waiting for its run_at (a delay or a retry backoff) becomes due now.
status promote_task(task& t, millis now);

/// Only finished tasks may be deleted.
status check_deletable(const task& t);
/// Bulk cleaning: finished, and finished before `cutoff`.
status check_finished_before(const task& t, millis cutoff);

} // namespace taskd
