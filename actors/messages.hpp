#pragma once
// Every message the actors exchange. Payloads travel as `boxed<T>`: a shared pointer to
// an immutable value, so a message never copies a task and CAF never serializes one
// (taskd's actors are all local).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "src/core/error.hpp"
#include "src/core/task.hpp"
#include "src/core/worker_request.hpp"
#include "src/handlers/handlers.hpp"
#include "storage/store.hpp"

namespace taskd {

template <class T> struct boxed {
  std::shared_ptr<T> ptr;
  T& operator*() const { return *ptr; }
  T* operator->() const { return ptr.get(); }
};

template <class T, class... Args> boxed<T> make_boxed(Args&&... args) {
  return boxed<T>{std::make_shared<T>(std::forward<Args>(args)...)};
}

/// Local-only: inspecting names the type and nothing else.
template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, boxed<T>&) {
  return f(caf::meta::type_name("taskd::boxed"));
}

/// What the scheduler knows that the store does not.
struct scheduler_stats {
  std::map<std::string, std::uint64_t> running_by_type;
  std::map<std::string, std::uint64_t> completed_last_minute;
  std::set<std::string, std::less<>> paused;
};

/// An admin action on every task matching, not a page: retry failed and abandoned,
/// cancel pending, or delete finished tasks that finished over `older_than_ms` ago.
enum class bulk_action { retry, cancel, clean };
struct bulk_request {
  bulk_action action = bulk_action::retry;
  std::optional<std::string> type; // required for retry and cancel
  millis older_than_ms = 0;
};
using bulk_result = result<std::uint64_t>; // how many tasks changed

/// A create (one task, or a batch: all or nothing), for submit_create. It is answered
/// through `reply` exactly once: on a store thread (syncer or writer) as soon as the tasks are
/// durable (or the write failed), or on the submitting thread when refused at once.
/// `reply` must only hand the outcome on (post it to another thread), never work on it.
/// `prepare`, if set, gets the same outcome earlier, once applied and while it syncs, to
/// build the answer meanwhile (on another thread): it must never send anything.
struct create_call {
  std::vector<task> tasks;
  shared_write_callback reply;
  shared_write_callback prepare;
};

// HTTP -> scheduler (each answered with boxed<write_result>, scheduler_stats for stats).
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;   // task_id
using retry_atom = caf::atom_constant<caf::atom("retry")>;     // task_id
using delete_atom = caf::atom_constant<caf::atom("delete")>;   // task_id
using stats_atom = caf::atom_constant<caf::atom("stats")>;     // -> boxed<scheduler_stats>
using promote_atom = caf::atom_constant<caf::atom("promote")>; // task_id
using pause_atom = caf::atom_constant<caf::atom("pause")>;     // std::string type, bool paused
using bulk_atom = caf::atom_constant<caf::atom("bulk")>;       // boxed<bulk_request>
                                                               // -> boxed<bulk_result>
using drain_atom = caf::atom_constant<caf::atom("drain")>;    // millis grace -> bool (all finished)
using lease_atom = caf::atom_constant<caf::atom("lease")>;    // boxed<lease_request>
                                                              // -> boxed<lease_reply>
using report_atom = caf::atom_constant<caf::atom("wreport")>; // boxed<worker_call>
                                                              // -> boxed<write_result>
using workers_atom = caf::atom_constant<caf::atom("workers")>; // -> boxed<worker_list>

// Internal to the scheduler.
using commits_atom = caf::atom_constant<caf::atom("commits")>;
using outcome_atom = caf::atom_constant<caf::atom("outcome")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using refilled_atom = caf::atom_constant<caf::atom("refilled")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using grace_atom = caf::atom_constant<caf::atom("grace")>;
using bulk_page_atom = caf::atom_constant<caf::atom("bulkpage")>;
using lease_wait_atom = caf::atom_constant<caf::atom("leasewait")>; // a parked lease's deadline
using lease_tick_atom = caf::atom_constant<caf::atom("leasetick")>; // check lease expiry
using space_atom = caf::atom_constant<caf::atom("space")>;          // is the disk writable again?

/// Registers the message types with an actor system config.
void add_message_types(caf::actor_system_config& cfg);

} // namespace taskd
