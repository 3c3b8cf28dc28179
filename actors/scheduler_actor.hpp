#pragma once
// The scheduler actor owns admission and dispatch.
//
// Creates do not pass through its mailbox: submit_create (any thread) admits them and
// hands them to the store; the scheduler learns of them when they are durable.
//
// Accepts (each answered once):
//   (cancel_atom, task_id) | (retry_atom, task_id) | (delete_atom, task_id)
//                                          -> boxed<write_result>
//   (stats_atom)                           -> boxed<scheduler_stats>
//   (drain_atom, millis grace)             -> bool: stops admitting and dispatching, answers
//                                             when nothing runs (true) or after grace (false)
//
// Guarantees: per-type `concurrency` bounds running async tasks of that type; sync tasks
// run one at a time engine-wide in their own lane (so async load cannot starve them);
// within a lane, higher priority first, then FIFO. Pending tasks live on disk; the
// scheduler keeps bounded windows of the ready and schedule indexes.

#include <memory>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "src/config/config.hpp"
#include "storage/store.hpp"

namespace taskd {

struct scheduler_deps {
  std::shared_ptr<const config> cfg;
  store* db = nullptr;
  std::size_t window_capacity = 4096; // ready/schedule entries held in memory per lane
};

/// Admission of creates (the pending bounds), shared by the scheduler and the threads that
/// create: HTTP and Faktory connections. Thread-safe.
class create_gate;

struct scheduler_handles {
  caf::actor actor;
  std::shared_ptr<create_gate> creates;
};

scheduler_handles spawn_scheduler(caf::actor_system& sys, scheduler_deps deps);

/// Admits the call's tasks and submits them to the store from the calling thread. The
/// call is answered through its reply exactly once: on this thread when refused
/// (too_many_pending, shutting_down), otherwise on the store's thread once durable.
void submit_create(create_gate& gate, create_call call);

/// Before the scheduler starts: every task left in_progress by a previous process is
/// stalled (retried if attempts remain, otherwise abandoned). Blocks until durable.
status recover_stalled(store& db);

/// With [faktory] auto_types, declares again the types of stored tasks that the config
/// lacks (each with the queue of its newest task), so they are served after a restart.
status restore_auto_types(const store& db, const config& cfg);

} // namespace taskd
