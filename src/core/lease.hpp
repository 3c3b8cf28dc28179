#pragma once
// Leases of tasks run by remote workers (types with handler = "worker"), as plain
// functions on the record, like lifecycle.hpp.
//
// A lease is the right of one worker to report on one attempt. Every lease has a fresh
// random token; a call naming any other token (the lease expired and the task was handed
// out again, or the attempt already ended) is refused with errc::lease_lost and changes
// nothing, so a slow worker can never overwrite a newer attempt.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "src/core/error.hpp"
#include "src/core/lifecycle.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// 128 random bits as 32 hex digits.
std::string new_lease_token();

struct lease_grant {
  std::string token;
  std::string worker;
  millis lease_ms = 60000; // 0: the task's own (its Faktory reserve_for)
};

/// pending -> in_progress, held by `g.worker` until now + lease_ms.
status grant_lease(task& t, const lease_grant& g, millis now);

/// ok if `token` is the current lease of an in_progress task, else lease_lost.
status check_lease(const task& t, std::string_view token);

/// A heartbeat: the lease runs until now + lease_ms; progress (0..100) if given.
status extend_lease(task& t, std::string_view token, std::optional<int> progress, millis lease_ms,
                    millis now);

status complete_leased(task& t, std::string_view token, boost::json::value result, millis now);
result<attempt_end> fail_leased(task& t, std::string_view token, std::string error, bool retryable,
                                millis now);
/// Appends the worker's log lines to the task's log ("[attempt N] line").
status append_leased_log(task& t, std::string_view token, const std::vector<std::string>& lines);

/// The lease `token` ran out: the attempt is stalled (retried or abandoned). lease_lost if
/// the task moved on meanwhile (completed, or a heartbeat made it a new expiry time).
result<attempt_end> expire_lease(task& t, std::string_view token, millis now);

} // namespace taskd
