#pragma once
// The scheduler actor's state and the helpers its two source files share (internal to
// actors/): scheduler_actor.cpp admits, dispatches and records outcomes;
// scheduler_workers.cpp serves remote workers' leases and reports.

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"
#include "actors/scheduler_actor.hpp"
#include "src/core/admission.hpp"
#include "src/core/lease.hpp"
#include "src/core/minute_counter.hpp"
#include "src/core/wake_queue.hpp"
#include "src/core/window.hpp"

namespace taskd::scheduling {

// start: the start transition is applied (not yet durable); start_durable: it is synced.
enum class commit_kind {
  create,
  start,
  start_durable,
  finish,
  promote,
  cancel,
  retry,
  remove,
  pause,
  bulk,
  report, // a remote worker's heartbeat, complete, fail or log
  expire  // a remote worker's lease ran out
};

constexpr std::size_t promote_batch = 1000;                           // due tasks moved per commit
constexpr auto lease_check_interval = std::chrono::milliseconds(100); // lease expiry checks
constexpr std::size_t max_workers_listed = 1000; // GET /api/v1/workers keeps this many

/// What a store callback hands back to the scheduler.
struct commit_event {
  explicit commit_event(commit_kind k) : kind(k) {}
  commit_kind kind;
  std::uint64_t request = 0; // response promise, if a client waits
  task_id id = 0;
  std::map<std::string, std::uint64_t, std::less<>> reserved; // creates: admitted counts
  std::optional<ready_entry> entry;                           // starts: the window entry
  bool sync_lane = false;
  bool paused = false; // pause: the new state
  std::string type;
  std::uint64_t bulk_job = 0;
  std::uint64_t lease_batch = 0; // starts: the lease request they serve
  // Sync starts: set by the apply (store's writer thread, before the callback) to the
  // task's type when that type is served by remote workers and the start was refused.
  std::shared_ptr<std::string> needs_worker;
  worker_report report = worker_report::heartbeat; // report: which call
  write_result result = std::vector<task_change>{};
  std::shared_ptr<const write_result> created; // creates: the outcome, shared with the reply
};

} // namespace taskd::scheduling

namespace taskd {

class create_gate {
public:
  create_gate(const config& cfg, store* db)
      : db(db), commits(std::make_shared<wake_queue<scheduling::commit_event>>()), pending_(cfg) {}

  store* const db;
  // Store callbacks (writer and syncer threads) leave their events here and send a
  // commits_atom only when it was idle: one message per burst, not one per write.
  const std::shared_ptr<wake_queue<scheduling::commit_event>> commits;

  /// Runs `fn(pending_ledger&, bool closed, caf::actor scheduler)` under the gate's lock.
  template <class Fn> auto with_ledger(Fn fn) {
    std::lock_guard lock(mu_);
    return fn(pending_, closed_, caf::actor_cast<caf::actor>(scheduler_));
  }
  void add_pending(const std::string& type, std::int64_t delta) {
    std::lock_guard lock(mu_);
    pending_.add(type, delta);
  }
  /// Set once the scheduler is spawned; until then every create is refused.
  void open(caf::actor_addr scheduler) {
    std::lock_guard lock(mu_);
    scheduler_ = std::move(scheduler);
  }
  /// Draining: every later create is refused with shutting_down.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

private:
  std::mutex mu_;
  pending_ledger pending_;
  bool closed_ = false;
  caf::actor_addr scheduler_;
};

} // namespace taskd

namespace taskd::scheduling {

struct bulk_page {
  std::uint64_t job = 0;
  result<task_page> page = task_page{};
};

struct bulk_job {
  bulk_request req;
  caf::response_promise rp;
  std::vector<task_status> statuses; // scanned one after the other
  std::size_t status_index = 0;
  task_id after = 0;
  bool more = false; // the page in flight is not the last of its status
  std::uint64_t count = 0;
};

constexpr std::size_t bulk_page_size = 500;

struct refill_event {
  bool sync_lane = false;
  bool schedule = false;
  std::string type;
  result<std::vector<ready_entry>> ready = std::vector<ready_entry>{};
  result<std::vector<scheduled_entry>> scheduled = std::vector<scheduled_entry>{};
  std::size_t asked = 0;
};

struct type_state {
  const type_config* cfg = nullptr;
  std::int32_t running = 0;
  bounded_window<ready_entry> ready;
};

struct running_task {
  std::string type;
  bool sync = false;
  caf::actor_addr actor;
  bool reported = false;
  bool remote = false; // leased to a remote worker: no task actor
};

/// A lease request being served: its starts are in flight; answered when all are durable.
struct lease_batch {
  caf::response_promise rp;
  std::size_t outstanding = 0;
  std::vector<task> tasks;
};

/// A long-poll lease request waiting for a task.
struct parked_lease {
  lease_request req;
  caf::response_promise rp;
};

/// A remote worker's current lease of a running task.
struct lease_info {
  std::string token;
  std::string worker;
  millis expires_at = 0;
  millis lease_ms = 0;
  bool expiring = false; // an expire_lease write is in flight
};

struct scheduler_state {
  static inline const char* name = "scheduler";
  scheduler_deps deps;
  std::shared_ptr<create_gate> gate; // its ledger counts pending tasks for admission
  std::map<std::string, type_state, std::less<>> types;
  bounded_window<ready_entry> sync_ready;
  bool sync_busy = false;
  // The sync lane's turn belongs to a task of a worker type: it waits, holding the lane,
  // until a worker leases that type (or it is cancelled, or its type paused).
  struct worker_turn {
    ready_entry entry;
    std::string type;
  };
  std::optional<worker_turn> sync_for_worker;
  bounded_window<scheduled_entry> scheduled;
  millis armed_tick = 0;      // run_at the pending timer fires for, 0 = none
  bool promoting = false;     // a promote_op is in flight
  bool promote_again = false; // more became due while it was
  std::unordered_map<task_id, running_task> running;
  std::uint64_t next_request = 1;
  std::unordered_map<std::uint64_t, caf::response_promise> promises;
  bool draining = false;
  std::vector<caf::response_promise> drain_waiters;
  // Paused types admit but do not dispatch. The sync lane learns a task's type only when
  // its start applies, so the start itself refuses paused types (from this snapshot).
  std::shared_ptr<const std::set<std::string, std::less<>>> paused;
  bool sync_restart = false; // a type was resumed: re-read the sync lane when idle
  std::map<std::string, minute_counter, std::less<>> completed;
  std::uint64_t next_bulk = 1;
  std::unordered_map<std::uint64_t, bulk_job> bulk_jobs;
  // Remote workers.
  std::uint64_t next_lease = 1;
  std::unordered_map<std::uint64_t, lease_batch> lease_batches;
  std::map<std::uint64_t, parked_lease> parked; // FIFO by id
  std::unordered_map<task_id, lease_info> leases;
  std::map<std::string, worker_info> workers;
  bool lease_tick_armed = false;
  // While the store refuses writes for lack of space, dispatch holds and a timer checks
  // for space; attempts whose outcome could not be written then end as stalled.
  bool space_check_armed = false;
  std::set<task_id> unrecorded;
};

using self_ptr = caf::stateful_actor<scheduler_state>*;

// scheduler_actor.cpp
write_callback post_commit(self_ptr self, commit_event ev);
std::uint64_t remember(self_ptr self, caf::response_promise rp);
void account(self_ptr self, commit_kind kind, const task_change& ch);
void release_slot(self_ptr self, task_id id);
/// Starts a ready task: a task actor for local handlers, a durable lease for `grant`.
void start(self_ptr self, const ready_entry& entry, const std::string& type, bool sync,
           const lease_grant* grant, std::uint64_t lease_batch);
void refill_if_low(self_ptr self);

// scheduler_workers.cpp
void serve_parked(self_ptr self);
void on_lease(self_ptr self, lease_request req, caf::response_promise rp);
void lease_started(self_ptr self, const commit_event& ev);
void on_report(self_ptr self, worker_call call, caf::response_promise rp);
void on_lease_tick(self_ptr self);
void on_remote_committed(self_ptr self, commit_event& ev);

} // namespace taskd::scheduling
