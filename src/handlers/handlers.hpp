#pragma once
// Blocking task handlers. They run on a dedicated (detached) actor thread, never on
// CAF's shared workers or the HTTP threads. Each enforces its own deadline.

#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "src/core/task.hpp"

namespace taskd {

struct handler_outcome {
  bool success = false;
  boost::json::value result; // on success
  std::string error;         // on failure: what happened, for humans
  bool retryable = true;     // false: fail the task without further attempts
  boost::json::value detail; // {"exit_code"} | {"signal", "signal_name"} | {"http_status"}
  std::string log;           // exec: the stderr tail, for the task's log
};

/// Limits on what an exec child may hand back; output past them is dropped.
inline constexpr std::size_t exec_max_stdout_bytes = 1 << 20;
inline constexpr std::size_t exec_stderr_tail_bytes = 4096;

/// Starts argv (no shell) in its own process group with `stdin_data` on stdin.
/// Exit 0: success, stdout parsed as JSON (or kept as a string; empty is null).
/// Non-zero exit, a signal, or a failure to start: a failed attempt whose error
/// holds the stderr tail. Past `timeout_ms` the whole process group is killed.
handler_outcome run_exec(const std::vector<std::string>& argv, const std::string& stdin_data,
                         millis timeout_ms);

/// Kills the process group of every exec command still running (shutdown past its grace).
void kill_running_exec_children();

/// POSTs `body_json` to `url` (http only). 2xx: success, body parsed as JSON (or kept
/// as a string). 4xx: failed, not retryable. 5xx, timeout, connection error: retryable.
handler_outcome run_webhook(const std::string& url, const std::string& body_json,
                            millis timeout_ms);

} // namespace taskd
