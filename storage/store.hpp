#pragma once
// The durable store: tasks, their dispatch/listing indexes, the change log and counters in
// one RocksDB database. Knows nothing of actors or HTTP.
//
// Writes go through one writer thread that groups every queued operation into one
// WriteBatch and one WAL write (group commit). A second thread, the syncer, syncs the WAL
// for every group written meanwhile while the writer applies the next (one sync per
// batch of groups), and only then runs their callbacks: acknowledging in a callback never
// acknowledges anything that a crash could lose. Reads are thread-safe and may run on any
// thread that is allowed to block; they may see a group up to one sync before it is
// durable (the change log does not: it is read up to the durable head).

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>
#include <vector>

#include "src/core/error.hpp"
#include "src/core/task.hpp"
#include "storage/record_cache.hpp"
#include "storage/record_prefetch.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
} // namespace rocksdb

namespace taskd {

struct store_options {
  std::string path;
  std::uint64_t change_log_retention = 1000000; // change-log entries kept
  std::size_t max_ops_per_commit = 8192;        // group-commit bound
  /// Writes are refused (storage_full) while the data directory's filesystem has less
  /// free space than this, so RocksDB itself never runs out (it cannot resume cleanly
  /// from a failed WAL write). 0 disables the check.
  std::uint64_t min_free_bytes = 64ull << 20;
  /// Memory for the writer's copies of the records it wrote last (record_cache.hpp).
  std::size_t record_cache_bytes = 4 << 20;
};

/// One task written by an operation. `before` is the status before (none for a create).
/// `existed` marks an idempotent create that matched an existing task: nothing was written.
struct task_change {
  std::optional<task_status> before;
  task after;
  std::uint64_t seq = 0;
  bool existed = false;
  bool deleted = false;
};

/// Creates tasks (ids and timestamps are assigned by the store). All or nothing.
/// With `refuse_new`, only tasks whose idempotency key already exists are answered;
/// if any task would be new, nothing is written and `refuse_new` is the error.
struct create_op {
  std::vector<task> tasks;
  std::optional<error> refuse_new = std::nullopt;
};

/// Read-modify-write of one task: `apply` is a lifecycle function; an error from it
/// writes nothing and is returned. `log_change` false for index-only moves (promotion).
struct update_op {
  task_id id = 0;
  std::function<status(task&)> apply;
  bool log_change = true;
};

/// Removes a finished task and its index entries.
struct delete_op {
  task_id id = 0;
};

/// Retention: deletes up to `limit` tasks of one finished status, oldest finished first,
/// while they finished before `finished_before` or more than `keep_max` (0: no bound) of
/// that status exist. Answers the deleted tasks; fewer than `limit` means done for now.
struct prune_op {
  task_status status = task_status::completed;
  millis finished_before = 0;
  std::uint64_t keep_max = 0;
  std::size_t limit = 500;
};

/// Moves up to `limit` pending tasks whose run_at has come from the schedule index to the
/// ready index, earliest first (index-only: not logged). Answers the promoted tasks;
/// fewer than `limit` means nothing more is due.
struct promote_op {
  std::size_t limit = 1000;
};

/// Applies `apply` to each listed task; those it accepts are written (with `erase`,
/// deleted instead); missing tasks and those it refuses are skipped. Answers the changes.
struct batch_op {
  std::vector<task_id> ids;
  std::function<status(task&)> apply;
  bool erase = false;
};

/// Pauses or resumes dispatch of a type: durable, answered with no changes.
struct pause_op {
  std::string type;
  bool paused = true;
};

/// Stores a mirror's cursor (the last change-log seq it applied) and moves its hold on
/// the change log there, if it holds one (see hold_changes): answered with no changes.
struct cursor_op {
  std::string sink;
  std::uint64_t seq = 0;
};

using write_op = std::variant<create_op, update_op, delete_op, prune_op, promote_op, pause_op,
                              batch_op, cursor_op>;
using write_result = result<std::vector<task_change>>;
using write_callback = std::function<void(write_result)>;
/// One result read by more than one party (a create's answer and the scheduler): shared,
/// never copied.
using shared_write_result = std::shared_ptr<const write_result>;
using shared_write_callback = std::function<void(shared_write_result)>;

struct list_filter {
  std::optional<task_status> status;
  std::optional<std::string> type;
  task_id after = 0; // exclusive cursor: ids above it, or below it when descending
  std::size_t limit = 100;
  bool descending = false;
};

struct task_page {
  std::vector<task> tasks;
  std::optional<task_id> next_after;
};

struct ready_entry {
  std::int32_t priority = 0;
  task_id id = 0;
  /// Dispatch order: higher priority first, then FIFO.
  bool operator<(const ready_entry& o) const {
    return priority != o.priority ? priority > o.priority : id < o.id;
  }
};

struct scheduled_entry {
  millis run_at = 0;
  task_id id = 0;
  bool operator<(const scheduled_entry& o) const {
    return run_at != o.run_at ? run_at < o.run_at : id < o.id;
  }
};

struct change_entry {
  std::uint64_t seq = 0;
  bool deleted = false;
  task t;
};

using status_counts = std::array<std::uint64_t, task_status_count>;
using counts_map = std::map<std::string, status_counts, std::less<>>;

class store {
public:
  static result<std::unique_ptr<store>> open(const store_options& options);
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Thread-safe. `cb` runs on the syncer thread (or the writer's, when it syncs itself)
  /// once the operation's batch is durable (or failed); keep it short: post the result
  /// elsewhere, never wait there. `applied`, if given, runs earlier, as soon as the
  /// operation succeeded in memory and before the batch's sync: for work that may start
  /// before durability (running a started task), never for acknowledging anything.
  void submit(write_op op, write_callback cb, write_callback applied = {});
  /// As submit, with the one result shared by both callbacks instead of copied to
  /// `applied`, which may keep reading it while the batch syncs: to prepare an answer
  /// (a batch create's JSON), never to send one before `cb`.
  void submit_shared(write_op op, shared_write_callback cb, shared_write_callback applied);

  /// Finishes queued writes and stops the writer. Later submits fail with shutting_down.
  void close();

  result<std::optional<task>> get(task_id id) const;
  /// Ordered by id, served from the indexes.
  result<task_page> list(const list_filter& filter) const;
  /// The first `limit` entries of a ready lane in dispatch order, strictly after `after`.
  result<std::vector<ready_entry>> ready_page(task_mode lane, std::string_view type,
                                              const std::optional<ready_entry>& after,
                                              std::size_t limit) const;
  /// The earliest `limit` delayed tasks, strictly after `after`.
  result<std::vector<scheduled_entry>> schedule_page(const std::optional<scheduled_entry>& after,
                                                     std::size_t limit) const;
  /// Tasks in one status (recovery reads in_progress), ordered by id.
  result<std::vector<task>> tasks_with_status(task_status s, std::size_t limit) const;
  /// Change-log entries with seq > `after`, oldest first.
  result<std::vector<change_entry>> changes_since(std::uint64_t after, std::size_t limit) const;
  /// The oldest seq still held (0 when empty); a reader behind it has missed changes.
  std::uint64_t oldest_seq() const;
  std::uint64_t head_seq() const;
  counts_map counts() const;
  /// One task's change-log entries still held, oldest first (its timeline).
  result<std::vector<change_entry>> task_changes(task_id id, std::size_t limit) const;
  std::set<std::string, std::less<>> paused_types() const;
  /// Table files by column family: what RocksDB holds open (each one a descriptor).
  std::map<std::string, std::uint64_t> table_files() const;

  /// True while writes are refused for lack of disk space (free space under
  /// min_free_bytes, or a write RocksDB failed with ENOSPC). Meanwhile every write is
  /// refused with storage_full before anything is applied; the writer checks again every
  /// `space_retry` and clears this on its own once space is back. After a failed RocksDB
  /// write it stays set until a restart (RocksDB cannot reuse a WAL that failed).
  bool out_of_space() const { return out_of_space_.load(std::memory_order_relaxed); }
  static constexpr std::chrono::milliseconds space_retry{500};

  /// Up to `limit` tasks with ids above `after`, in id order, each with the seq of its
  /// last logged change (0 if unknown), read from one snapshot: what a mirror copies when
  /// it must start over.
  result<std::vector<change_entry>> tasks_with_last_seq(task_id after, std::size_t limit) const;

  /// A mirror's stored cursor; nullopt if it never stored one.
  result<std::optional<std::uint64_t>> stored_cursor(std::string_view sink) const;
  /// The change log keeps every entry after `seq` for `holder` (beyond the retention
  /// window if need be) until a cursor_op for it moves the hold. Holds live in memory:
  /// only enabled mirrors hold the log.
  void hold_changes(const std::string& holder, std::uint64_t seq);
  void release_changes(const std::string& holder);

  /// `fn(head_seq)` runs on the thread of the sync (see submit) after every sync that made
  /// changes durable, once they are durable. Keep it short: post elsewhere. Add before
  /// writes begin; an empty `fn` removes every listener.
  void on_changes(std::function<void(std::uint64_t)> fn);

  /// `fn(results, seconds)` runs on the thread of the sync after each durable group, before
  /// the operations' callbacks: every operation's result in the group, and how long it
  /// took from its write to its sync. Keep it short. Set before writes begin.
  using commit_observer = std::function<void(const std::vector<write_result>&, double)>;
  void on_commit(commit_observer fn);

private:
  struct queued {
    write_op op;
    write_callback cb;
    write_callback applied;
    shared_write_callback shared_cb; // instead of cb and applied (submit_shared)
    shared_write_callback shared_applied;
    std::shared_ptr<record_prefetcher::slot> ahead; // an update's record, read ahead
  };
  struct group_state;
  /// A group written to the WAL (visible to reads) and waiting for the sync that makes it
  /// durable, or one that failed (answered in order with the rest).
  struct written_group {
    std::vector<queued> ops;
    /// Shared: a submit_shared callback holds its own element (aliasing pointer) while the
    /// syncer moves the others out to their callbacks.
    std::shared_ptr<std::vector<write_result>> results;
    std::optional<error> failed;
    std::uint64_t head = 0; // its newest change-log seq, 0 if it logged none
    std::chrono::steady_clock::time_point write_start{};
  };
  static constexpr std::size_t max_unsynced_groups = 64;
  /// An update is read ahead (record_prefetch.hpp) only when it joins a queue at least this
  /// long behind a busy writer: with less ahead of it, the writer reaches it before the
  /// read would pay for its hand-over (enqueue_bulk's starts lost 10% without this bound).
  static constexpr std::size_t read_ahead_queue = 16;
  /// Creates of a larger batch are not kept in the record cache (those with an idempotency
  /// key still are, for the group's overlay): a copy and an eviction per task on the
  /// writer, 0.7 ms per 1,000, for records the next few batches push out (the 4 MB cache
  /// holds about 4,800 records of small tasks) before their tasks start. A single create's
  /// start follows at once and finds its record cached.
  static constexpr std::size_t cached_create_batch = 64;

  explicit store(store_options options);
  status open_db();
  status load_meta();
  status migrate_retired_indexes();
  void enqueue(queued q);
  static void answer(queued& q, write_result r);
  void writer_loop();
  void commit_group(std::vector<queued>& group);
  void hand_to_syncer(written_group w);
  void syncer_loop();
  void deliver_synced(std::deque<written_group>& groups);
  void note_failed_write(const error& err);
  static error sync_failure();
  status check_space();
  result<std::vector<task_change>> apply_op(write_op& op, group_state& g);
  result<std::optional<task>> read_for_update(task_id id, group_state& g);
  void read_ahead_unless_cached(std::shared_ptr<record_prefetcher::slot> ahead);
  /// What a record's index entries derive from: all write_task needs of the record it
  /// replaces (so the record itself can become the new one without a copy).
  struct index_state {
    task_status status;
    task_mode mode;
    std::string type;
    std::int32_t priority;
    millis run_at;
    millis updated_at;
    std::optional<millis> finished_at;
  };
  static index_state index_state_of(const task& t);
  /// `keep_copy`: whether the group (and then the record cache) keeps a copy of `after`.
  void write_task(group_state& g, const std::optional<index_state>& before, task& after,
                  bool log_change, bool keep_copy = true);
  /// Puts the records the group keeps copies of (write_task's `keep_copy`) and the index
  /// moves of existing tasks into its batch, in key order.
  void put_in_key_order(group_state& g);
  void bump_count(group_state& g, std::string_view type, task_status s, std::int64_t delta);
  void erase_task(group_state& g, const task& t, std::vector<task_change>& out);
  result<std::vector<task_change>> prune(const prune_op& op, group_state& g);
  result<std::vector<task_change>> promote(const promote_op& op, group_state& g);

  store_options options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* tasks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ready_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* schedule_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* index_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* changes_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* idem_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* finished_cf_ = nullptr;

  // Writer-thread state (next ids) and shared state under mu_.
  // Written by the writer thread only, under recent_mu_; submit() reads it under the lock.
  record_cache recent_;
  std::unordered_set<task_id> unwritten_; // records of the group being written
  std::mutex recent_mu_;
  std::unique_ptr<record_prefetcher> prefetch_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_seq_ = 1;
  // Writer thread: every schedule key before this one was already promoted, so promote
  // seeks here instead of walking over their tombstones.
  std::optional<std::string> promoted_through_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<queued> queue_;
  bool writer_busy_ = false; // applying or writing a group, not waiting for work
  bool closing_ = false;
  bool closed_ = false;
  std::atomic<bool> out_of_space_{false};
  // RocksDB failed a write or a sync: writes are refused until a restart.
  std::atomic<bool> wal_failed_{false};
  // Writer thread: while there is space, the free space is read at most this often (the
  // reserve covers what is written in between), not once per commit group.
  static constexpr std::chrono::milliseconds space_poll{100};
  std::chrono::steady_clock::time_point next_space_poll_{};
  std::uint64_t head_seq_ = 0;
  std::uint64_t oldest_seq_ = 0;
  counts_map counts_;
  std::set<std::string, std::less<>> paused_;
  std::map<std::string, std::uint64_t, std::less<>> holds_;
  std::vector<std::function<void(std::uint64_t)>> on_changes_;
  std::shared_ptr<const commit_observer> on_commit_;
  std::thread writer_;
  // The sync stage: groups the writer wrote, oldest first, under sync_mu_.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<written_group> unsynced_;
  bool syncing_ = false; // a thread (the syncer, or the writer itself) syncs and delivers
  bool writer_done_ = false;
  std::atomic<bool> sync_failed_{false}; // a WAL sync failed: refuse writes until a restart
  std::thread syncer_;
};

} // namespace taskd
