#pragma once
// Faktory jobs <-> taskd tasks, as plain functions (the Faktory listener translates).
//
//   jid          <-> idempotency key (and the id Faktory clients see)
//   jobtype      <-> type (a configured type with handler = "worker")
//   args         <-> payload (an array)
//   queue        <-> the type's `queue` (FETCH hands out types whose queue was asked for)
//   priority     <-> priority (Faktory 1..9, default 5; higher first in both)
//   at           <-> run_at
//   retry N      <-> max_attempts N + 1 (N < 0: one attempt)
//   reserve_for  <-> the lease's length, seconds (default 1800)
// `custom`, `retry` and `reserve_for` ride along in the task's `meta`.

#include <string>

#include <boost/json/value.hpp>

#include "src/config/config.hpp"
#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

inline constexpr std::size_t max_jid_bytes = 255;
inline constexpr millis default_reserve_ms = 1800 * 1000;

/// A PUSHed job as a task to create (validated; ids and timestamps are the store's).
result<task> task_from_faktory_job(const boost::json::value& job, const config& cfg, millis now);

/// What FETCH hands a worker for a leased task.
boost::json::object faktory_job_from_task(const task& t, const config& cfg);

/// The lease length a task asked for (its reserve_for), default_reserve_ms otherwise.
millis faktory_reserve_ms(const task& t);

/// The jid a Faktory client knows the task by.
std::string faktory_jid(const task& t);

} // namespace taskd
