#include "storage/store.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <pthread.h>
#include <sys/statvfs.h>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <spdlog/spdlog.h>

#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"
#include "storage/keys.hpp"
#include "storage/rocks_support.hpp"

namespace taskd {

namespace {

using rocks::from_status;
using rocks::starts_with;
using rocks::view;

std::string encode_change(bool deleted, const task& t) {
  std::string v(1, deleted ? 'd' : 'u');
  append_encoded_task(v, t);
  return v;
}

} // namespace

// Per-group overlay: the writes of earlier operations in the same group must be visible
// to later ones (two transitions of one task, duplicate idempotency keys).
struct store::group_state {
  rocksdb::WriteBatch batch;
  struct written_record {
    std::optional<task> t; // none: deleted
    std::string entry;     // its change-log encoding: a tag byte, then the record
  };
  std::unordered_map<task_id, written_record> records;
  struct index_move {
    std::string key;
    bool put; // else delete
  };
  std::vector<index_move> index_moves; // of existing tasks; into the batch in key order
  std::vector<task_id> updated;        // of records, those that existed before (see unwritten_)
  record_prefetcher::slot* ahead = nullptr; // the operation being applied's, if read ahead
  std::unordered_map<std::string, task_id> idempotency;
  std::map<std::pair<std::string, task_status>, std::int64_t> count_deltas;
  std::map<std::string, bool> paused_changes;
  std::map<std::string, std::uint64_t> cursor_changes;
  std::uint64_t next_id;
  std::uint64_t next_seq;
  millis now;
};

store::store(store_options options)
    : options_(std::move(options)), recent_(options_.record_cache_bytes) {}

result<std::unique_ptr<store>> store::open(const store_options& options) {
  std::unique_ptr<store> s(new store(options));
  if (auto st = s->open_db(); !st) return st.err();
  if (auto st = s->migrate_retired_indexes(); !st) return st.err();
  if (auto st = s->load_meta(); !st) return st.err();
  s->prefetch_ = std::make_unique<record_prefetcher>(*s->db_, s->tasks_cf_);
  // Named for top -H and perf: these two threads carry every write.
  s->syncer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "store:syncer");
    p->syncer_loop();
  });
  s->writer_ = std::thread([p = s.get()] {
    pthread_setname_np(pthread_self(), "store:writer");
    p->writer_loop();
  });
  return s;
}

status store::open_db() {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  opts.IncreaseParallelism(2);
  opts.max_background_jobs = 2;
  opts.keep_log_file_num = 4;
  opts.max_total_wal_size = 256 << 20;
  opts.avoid_flush_during_shutdown = false;
  // One writer thread: concurrent memtable inserts would only add atomic overhead.
  opts.allow_concurrent_memtable_write = false;
  // Eight column families would each grow 64 MB memtables; cap them together so RSS
  // stays bounded however large the backlog gets.
  opts.db_write_buffer_size = 64 << 20;
  opts.enable_write_thread_adaptive_yield = false;
  // A write appends to the WAL's buffer; the sync (FlushWAL, on the syncer thread unless
  // the writer is idle) writes it to the file, so a busy writer does not pay for the
  // write() of every group. Nothing acknowledged depends on the buffer: acknowledgements
  // wait for that FlushWAL.
  opts.manual_wal_flush = true;

  rocksdb::ColumnFamilyOptions cf_opts(opts);
  // Dispatch indexes see a put and a delete per task: compact away tombstone runs early.
  rocksdb::ColumnFamilyOptions churn_opts(opts);
  churn_opts.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(1024, 512));
  // Memtable inserts lead the writer's profile. Keys mostly arrive in order within a run
  // that ends in a u64 (task id; finished: finished_at and id): a skip-list insert that
  // starts from the last insert of its run skips most key comparisons. (The change log
  // needs no hint: its keys only ascend, which the skip list's own last-insert splice
  // serves.) Never on a column family that sees DeleteRange over keys of the hint's
  // domain: RocksDB 7.8 shares the hints between a memtable's point and range-deletion
  // tables, which corrupts the skip list (the migration's one-byte bounds are outside).
  auto hinted = [](rocksdb::ColumnFamilyOptions o, std::size_t ordered_tail) {
    o.memtable_insert_with_hint_prefix_extractor = rocks::all_but_tail(ordered_tail);
    return o;
  };

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, cf_opts},
                                                      {"tasks", hinted(cf_opts, 8)},
                                                      {"ready", hinted(churn_opts, 8)},
                                                      {"schedule", churn_opts},
                                                      {"index", hinted(churn_opts, 8)},
                                                      {"changes", churn_opts},
                                                      {"idempotency", cf_opts},
                                                      {"finished", hinted(churn_opts, 16)}};
  auto st = rocksdb::DB::Open(rocksdb::DBOptions(opts), options_.path, cfs, &handles_, &db_);
  if (!st.ok()) return from_status(st, "open " + options_.path);
  meta_cf_ = handles_[0];
  tasks_cf_ = handles_[1];
  ready_cf_ = handles_[2];
  schedule_cf_ = handles_[3];
  index_cf_ = handles_[4];
  changes_cf_ = handles_[5];
  idem_cf_ = handles_[6];
  finished_cf_ = handles_[7];
  return ok_status();
}

status store::load_meta() {
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions(), meta_cf_, std::string(keys::next_id_key), &v);
  if (st.ok())
    next_id_ = keys::get_u64(v);
  else if (!st.IsNotFound())
    return from_status(st, "read next_id");
  st = db_->Get(rocksdb::ReadOptions(), meta_cf_, std::string(keys::next_seq_key), &v);
  if (st.ok())
    next_seq_ = keys::get_u64(v);
  else if (!st.IsNotFound())
    return from_status(st, "read next_seq");
  head_seq_ = next_seq_ - 1;

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  for (it->Seek(std::string(keys::count_prefix));
       it->Valid() && starts_with(it->key(), keys::count_prefix); it->Next()) {
    std::string_view k = view(it->key()).substr(keys::count_prefix.size());
    auto slash = k.rfind('/');
    if (slash == std::string_view::npos) continue;
    auto s = parse_task_status(k.substr(slash + 1));
    if (!s) continue;
    counts_[std::string(k.substr(0, slash))][static_cast<int>(*s)] =
        keys::get_u64(view(it->value()));
  }
  if (!it->status().ok()) return from_status(it->status(), "read counts");
  for (it->Seek(std::string(keys::paused_prefix));
       it->Valid() && starts_with(it->key(), keys::paused_prefix); it->Next())
    paused_.emplace(view(it->key()).substr(keys::paused_prefix.size()));
  if (!it->status().ok()) return from_status(it->status(), "read paused types");

  std::unique_ptr<rocksdb::Iterator> ch(db_->NewIterator(rocksdb::ReadOptions(), changes_cf_));
  ch->SeekToFirst();
  oldest_seq_ = ch->Valid() ? keys::get_u64(view(ch->key())) : next_seq_;
  if (!ch->status().ok()) return from_status(ch->status(), "read change log");
  return ok_status();
}

store::~store() {
  close();
  prefetch_.reset(); // its reader uses db_
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  delete db_;
}

void store::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closing_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(sync_mu_);
    writer_done_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  // Flushed memtables make the next open fast: no WAL replay of everything written.
  if (auto st = db_->Flush(rocksdb::FlushOptions(), handles_); !st.ok())
    spdlog::warn("flush on close failed (the WAL still has everything): {}", st.ToString());
  std::lock_guard lock(mu_);
  closed_ = true;
}

void store::submit(write_op op, write_callback cb, write_callback applied) {
  enqueue({std::move(op), std::move(cb), std::move(applied), {}, {}, {}});
}

void store::submit_shared(write_op op, shared_write_callback cb, shared_write_callback applied) {
  enqueue({std::move(op), {}, {}, std::move(cb), std::move(applied), {}});
}

void store::answer(queued& q, write_result r) {
  if (q.shared_cb)
    q.shared_cb(std::make_shared<const write_result>(std::move(r)));
  else
    q.cb(std::move(r));
}

void store::enqueue(queued q) {
  std::shared_ptr<record_prefetcher::slot> ahead;
  {
    std::unique_lock lock(mu_);
    if (closing_) {
      lock.unlock();
      return answer(q, make_error(errc::shutting_down, "store is closed"));
    }
    // Behind a busy writer and a queue of operations, an update waits: its record can be
    // read meanwhile. An idle writer takes it at once and reads the record sooner itself.
    if (auto* u = std::get_if<update_op>(&q.op);
        u && writer_busy_ && queue_.size() + 1 >= read_ahead_queue)
      ahead = std::make_shared<record_prefetcher::slot>(u->id);
    q.ahead = ahead;
    queue_.push_back(std::move(q));
    cv_.notify_one();
  }
  if (ahead) read_ahead_unless_cached(std::move(ahead));
}

void store::read_ahead_unless_cached(std::shared_ptr<record_prefetcher::slot> ahead) {
  {
    std::lock_guard lock(recent_mu_);
    if (recent_.contains(ahead->id) || unwritten_.count(ahead->id) != 0) return;
  }
  prefetch_->want(std::move(ahead));
}

void store::writer_loop() {
  std::vector<queued> group;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto has_work = [&] { return closing_ || !queue_.empty(); };
      if (out_of_space_) {
        if (!cv_.wait_for(lock, space_retry, has_work)) {
          lock.unlock();
          (void)check_space(); // logs when space is back
          continue;
        }
      } else {
        writer_busy_ = false;
        cv_.wait(lock, has_work);
      }
      writer_busy_ = true;
      if (queue_.empty()) return; // closing and drained
      std::size_t n = std::min(queue_.size(), options_.max_ops_per_commit);
      group.clear();
      for (std::size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_group(group);
  }
}

status store::check_space() {
  if (wal_failed_)
    return make_error(errc::storage_full, "storage full: a write failed for lack of disk space; "
                                          "free space and restart taskd");
  if (sync_failed_) return sync_failure();
  if (options_.min_free_bytes == 0) return ok_status();
  const auto now = std::chrono::steady_clock::now();
  if (!out_of_space_ && now < next_space_poll_) return ok_status();
  next_space_poll_ = now + space_poll;
  struct statvfs fs {};
  if (statvfs(options_.path.c_str(), &fs) != 0) return ok_status(); // cannot tell: let RocksDB try
  auto free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  bool full = free_bytes < options_.min_free_bytes;
  bool was_full = out_of_space_.exchange(full);
  if (full && !was_full)
    spdlog::error("storage: {} MB free in {}, under the {} MB reserve: writes are refused until "
                  "space is freed",
                  free_bytes >> 20, options_.path, options_.min_free_bytes >> 20);
  if (!full && was_full) spdlog::warn("storage: space is available again; writes resume");
  if (full)
    return make_error(errc::storage_full, "storage full: " + std::to_string(free_bytes >> 20) +
                                              " MB free, under the reserve of " +
                                              std::to_string(options_.min_free_bytes >> 20) +
                                              " MB (limits.min_free_disk_mb)");
  return ok_status();
}

void store::commit_group(std::vector<queued>& group) {
  if (auto st = check_space(); !st) {
    // Refused before anything is applied: no handler starts, no state moves.
    return hand_to_syncer(written_group{std::move(group), {}, st.err()});
  }
  group_state g;
  g.next_id = next_id_;
  g.next_seq = next_seq_;
  g.now = now_ms();
  auto results = std::make_shared<std::vector<write_result>>();
  results->reserve(group.size());
  for (auto& q : group) {
    g.ahead = q.ahead.get();
    results->push_back(apply_op(q.op, g));
    g.ahead = nullptr;
    q.ahead.reset(); // applied: the reader skips it if it has not got to it
  }
  put_in_key_order(g);
  if (!g.updated.empty()) {
    // The applied callbacks may lead to updates of these records (a started task's
    // finish) before they reach the cache: not worth reading ahead.
    std::lock_guard lock(recent_mu_);
    unwritten_.insert(g.updated.begin(), g.updated.end());
  }
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (!(*results)[i].ok()) continue;
    if (group[i].applied) group[i].applied((*results)[i]);
    if (group[i].shared_applied)
      group[i].shared_applied(shared_write_result(results, &(*results)[i]));
  }

  written_group w{std::move(group), std::move(results), std::nullopt};
  w.write_start = std::chrono::steady_clock::now();
  if (g.next_seq != next_seq_) w.head = g.next_seq - 1;
  if (g.batch.Count() > 0) {
    std::string v;
    keys::put_u64(v, g.next_id);
    g.batch.Put(meta_cf_, std::string(keys::next_id_key), v);
    v.clear();
    keys::put_u64(v, g.next_seq);
    g.batch.Put(meta_cf_, std::string(keys::next_seq_key), v);

    // One lock per group for the mirrors' holds and the counters (see below).
    std::unique_lock counts_lock(mu_);
    std::uint64_t head = g.next_seq - 1;
    std::uint64_t keep_from =
        head > options_.change_log_retention ? head - options_.change_log_retention + 1 : 0;
    for (auto& [holder, seq] : g.cursor_changes)
      if (auto h = holds_.find(holder); h != holds_.end()) h->second = seq;
    for (auto& [holder, seq] : holds_) keep_from = std::min(keep_from, seq + 1);
    std::uint64_t slack = std::max<std::uint64_t>(1000, options_.change_log_retention / 10);
    bool trim = keep_from > oldest_seq_ + slack;
    if (trim)
      g.batch.DeleteRange(changes_cf_, keys::change_key(oldest_seq_), keys::change_key(keep_from));

    // Absolute values, so replaying the WAL needs no merge logic. The lock covers the
    // insertion of a new type into counts_ (readers iterate it); values change only
    // once the batch is written.
    std::vector<std::pair<std::uint64_t*, std::uint64_t>> new_counts;
    new_counts.reserve(g.count_deltas.size());
    for (auto& [key, delta] : g.count_deltas) {
      auto& c = counts_[key.first][static_cast<int>(key.second)];
      auto value = static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, static_cast<std::int64_t>(c) + delta));
      std::string enc;
      keys::put_u64(enc, value);
      g.batch.Put(meta_cf_, keys::count_key(key.first, key.second), enc);
      new_counts.emplace_back(&c, value);
    }
    counts_lock.unlock();

    // Not synced here: the syncer thread syncs the WAL for every group written meanwhile
    // while this thread applies the next (unless there is none: hand_to_syncer), and only
    // then are they acknowledged. The WAL is a log, so a crash loses at most a suffix of
    // unacknowledged groups.
    rocksdb::WriteOptions wo;
    wo.sync = false;
    if (auto st = db_->Write(wo, &g.batch); !st.ok()) {
      w.failed = from_status(st, "commit");
      note_failed_write(*w.failed);
      std::lock_guard lock(recent_mu_);
      for (task_id id : g.updated) unwritten_.erase(id);
      return hand_to_syncer(std::move(w));
    }
    next_id_ = g.next_id;
    next_seq_ = g.next_seq;
    const std::uint64_t written_seq = db_->GetLatestSequenceNumber(); // this thread writes
    std::unique_lock recent_lock(recent_mu_);
    for (task_id id : g.updated) unwritten_.erase(id);
    for (auto& [id, rec] : g.records) {
      if (rec.t)
        recent_.put(std::move(*rec.t), rec.entry.size() - 1, written_seq);
      else
        recent_.erase(id, written_seq);
    }
    recent_lock.unlock();
    std::lock_guard lock(mu_);
    for (auto& [counter, value] : new_counts) *counter = value;
    if (trim) oldest_seq_ = keep_from;
    for (auto& [type, paused] : g.paused_changes) {
      if (paused)
        paused_.insert(type);
      else if (auto p = paused_.find(type); p != paused_.end())
        paused_.erase(p);
    }
  }
  hand_to_syncer(std::move(w));
}

error store::sync_failure() {
  return make_error(errc::storage_error,
                    "syncing the write-ahead log failed; writes are refused until taskd restarts");
}

void store::note_failed_write(const error& err) {
  if (err.code != errc::storage_full) return;
  wal_failed_ = true;
  out_of_space_ = true;
  spdlog::critical("storage: a write failed for lack of disk space ({}); writes are refused "
                   "until taskd restarts with space freed (raise limits.min_free_disk_mb)",
                   err.message);
}

void store::hand_to_syncer(written_group w) {
  bool more_to_write;
  {
    std::lock_guard lock(mu_);
    more_to_write = !queue_.empty();
  }
  std::unique_lock lock(sync_mu_);
  if (!more_to_write && !syncing_ && unsynced_.empty()) {
    // Nothing to write meanwhile and nothing syncing: sync on this thread, without waking
    // the syncer (a wake-up took 70 us on a 2-core VM, as long as a third of the sync,
    // and a create waits for two syncs on its way to a worker). What is submitted
    // meanwhile is written after it, and synced next either way.
    syncing_ = true;
    lock.unlock();
    std::deque<written_group> one;
    one.push_back(std::move(w));
    deliver_synced(one);
    lock.lock();
    syncing_ = false;
    return;
  }
  // Bounded, so a slow disk slows the writer down instead of growing memory.
  sync_cv_.wait(lock, [&] { return unsynced_.size() < max_unsynced_groups; });
  unsynced_.push_back(std::move(w));
  sync_cv_.notify_all();
}

void store::syncer_loop() {
  std::deque<written_group> groups;
  for (;;) {
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return writer_done_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return; // the writer is gone and everything is answered
      groups.clear();
      groups.swap(unsynced_);
      syncing_ = true;
    }
    sync_cv_.notify_all(); // room for the writer again
    deliver_synced(groups);
    std::lock_guard lock(sync_mu_);
    syncing_ = false;
  }
}

void store::deliver_synced(std::deque<written_group>& groups) {
  bool any_written = false;
  for (auto& w : groups) any_written = any_written || !w.failed;
  // Once a sync failed, nothing written after it is acknowledged either (it builds on
  // what may be lost); a restart replays the WAL.
  std::optional<error> sync_failed;
  if (sync_failed_) sync_failed = sync_failure();
  if (any_written && !sync_failed) {
    // The WAL's buffer goes to the file here, not on the writer (manual_wal_flush), and is
    // synced: taskd has one durability mode.
    if (auto st = db_->FlushWAL(/*sync=*/true); !st.ok()) {
      sync_failed = from_status(st, "sync the write-ahead log");
      sync_failed_ = true;
      note_failed_write(*sync_failed);
      spdlog::critical("storage: {}; writes are refused until taskd restarts",
                       sync_failed->message);
    }
  }
  const auto synced_at = std::chrono::steady_clock::now();
  std::shared_ptr<const commit_observer> observer;
  {
    std::lock_guard lock(mu_); // also guards on_changes_ against on_changes()
    if (!sync_failed) {
      std::uint64_t head = 0;
      for (auto& w : groups)
        if (!w.failed) head = std::max(head, w.head);
      // Listeners read changes up to head_seq(): only what is durable.
      if (head > head_seq_) {
        head_seq_ = head;
        for (auto& fn : on_changes_) fn(head);
      }
    }
    observer = on_commit_;
  }
  for (auto& w : groups) {
    if (auto err = w.failed ? w.failed : sync_failed) {
      for (auto& q : w.ops) answer(q, *err);
      continue;
    }
    if (observer)
      (*observer)(*w.results, std::chrono::duration<double>(synced_at - w.write_start).count());
    for (std::size_t i = 0; i < w.ops.size(); ++i) {
      if (w.ops[i].shared_cb)
        w.ops[i].shared_cb(shared_write_result(w.results, &(*w.results)[i]));
      else
        w.ops[i].cb(std::move((*w.results)[i]));
    }
  }
}

result<std::optional<task>> store::read_for_update(task_id id, group_state& g) {
  if (auto it = g.records.find(id); it != g.records.end()) return it->second.t;
  if (const task* t = recent_.find(id)) return std::optional<task>(*t);
  if (g.ahead && g.ahead->id == id) {
    std::uint64_t read_at = 0;
    auto copy = g.ahead->take(read_at);
    g.ahead = nullptr; // the operation's one read
    if (copy && read_at >= recent_.evicted_through()) return copy;
  }
  return get(id);
}

void store::bump_count(group_state& g, std::string_view type, task_status s, std::int64_t delta) {
  g.count_deltas[{std::string(type), s}] += delta;
}

store::index_state store::index_state_of(const task& t) {
  return {t.status, t.mode, t.type, t.priority, t.run_at, t.updated_at, t.finished_at};
}

void store::write_task(group_state& g, const std::optional<index_state>& before, task& after,
                       bool log_change, bool keep_copy) {
  auto& b = g.batch;
  const task_id id = after.id;
  if (before) {
    if (before->status == task_status::pending) {
      b.Delete(ready_cf_, keys::ready_key(before->mode, before->type, before->priority, id));
      // A task due when it was last written went straight to ready: a schedule delete for
      // it would be a tombstone over nothing. Schedule keys only grow, so such tombstones
      // land in files no compaction ever merges, and seeks from the start walk over every
      // one. (Should a clock step leave a schedule key behind, promotion skips it: it
      // trusts the record.)
      if (before->run_at > before->updated_at)
        b.Delete(schedule_cf_, keys::schedule_key(before->run_at, id));
    }
    if (before->status != after.status) {
      g.index_moves.push_back({keys::type_status_key(before->type, before->status, id), false});
      bump_count(g, before->type, before->status, -1);
    }
  }
  if (before && is_terminal(before->status) && before->finished_at)
    b.Delete(finished_cf_, keys::finished_key(before->status, *before->finished_at, id));
  if (is_terminal(after.status) && after.finished_at)
    b.Put(finished_cf_, keys::finished_key(after.status, *after.finished_at, id), rocksdb::Slice());
  if (!before) {
    b.Put(index_cf_, keys::type_status_key(after.type, after.status, id), rocksdb::Slice());
    bump_count(g, after.type, after.status, +1);
  } else if (before->status != after.status) {
    g.index_moves.push_back({keys::type_status_key(after.type, after.status, id), true});
    bump_count(g, after.type, after.status, +1);
  }
  if (after.status == task_status::pending) {
    if (after.run_at <= g.now)
      b.Put(ready_cf_, keys::ready_key(after.mode, after.type, after.priority, id),
            rocksdb::Slice());
    else
      b.Put(schedule_cf_, keys::schedule_key(after.run_at, id), rocksdb::Slice());
  }
  if (log_change) {
    if (after.change_seqs.size() >= task_timeline_max)
      after.change_seqs.erase(after.change_seqs.begin(),
                              after.change_seqs.end() - (task_timeline_max - 1));
    after.change_seqs.push_back(g.next_seq);
  }
  // One encoding for both: the change-log entry is the record behind a one-byte tag.
  std::string entry = encode_change(false, after);
  if (log_change) b.Put(changes_cf_, keys::change_key(g.next_seq++), entry);
  if (keep_copy) {
    // The record goes into the batch with the group's others, in key order (put_in_key_order).
    auto& rec = g.records[id];
    rec.t = after;
    rec.entry = std::move(entry);
  } else {
    b.Put(tasks_cf_, keys::task_key(id), rocksdb::Slice(entry.data() + 1, entry.size() - 1));
  }
  if (before) g.updated.push_back(id);
}

void store::put_in_key_order(group_state& g) {
  // A drain's group alternates finishes and the starts they make room for, ids about a
  // concurrency apart: in key order, each skip-list insert starts next to the last one
  // (the memtable's insert hint) instead of searching from the top. And a record written
  // twice in a group goes in once, as it ends. (Moves of one index key keep their order:
  // the sort is stable. A create's key goes in at once: no earlier write in the group
  // can touch it.)
  std::stable_sort(g.index_moves.begin(), g.index_moves.end(),
                   [](const auto& a, const auto& b) { return a.key < b.key; });
  for (const auto& m : g.index_moves) {
    if (m.put)
      g.batch.Put(index_cf_, m.key, rocksdb::Slice());
    else
      g.batch.Delete(index_cf_, m.key);
  }
  std::vector<std::pair<task_id, const std::string*>> records;
  records.reserve(g.records.size());
  for (auto& [id, rec] : g.records)
    if (rec.t) records.emplace_back(id, &rec.entry);
  std::sort(records.begin(), records.end());
  for (auto [id, entry] : records)
    g.batch.Put(tasks_cf_, keys::task_key(id),
                rocksdb::Slice(entry->data() + 1, entry->size() - 1));
}

result<std::vector<task_change>> store::apply_op(write_op& op, group_state& g) {
  std::vector<task_change> out;
  if (auto* c = std::get_if<create_op>(&op)) {
    // Idempotency first, so a refused batch writes nothing.
    out.reserve(c->tasks.size());
    std::unordered_map<std::string, std::size_t> keys_in_op; // key -> index in out
    for (auto& t : c->tasks) {
      task_change ch;
      if (t.idempotency_key) {
        if (auto it = keys_in_op.find(*t.idempotency_key); it != keys_in_op.end()) {
          ch.existed = true;
          ch.after = out[it->second].after;
          ch.before = task_status::pending;
          out.push_back(std::move(ch));
          continue;
        }
        task_id existing = 0;
        if (auto it = g.idempotency.find(*t.idempotency_key); it != g.idempotency.end()) {
          existing = it->second;
        } else {
          std::string v;
          auto st = db_->Get(rocksdb::ReadOptions(), idem_cf_, *t.idempotency_key, &v);
          if (st.ok())
            existing = keys::get_u64(v);
          else if (!st.IsNotFound())
            return from_status(st, "read idempotency key");
        }
        if (existing != 0) {
          auto rec = read_for_update(existing, g);
          if (!rec) return rec.err();
          if (*rec) {
            ch.existed = true;
            ch.before = (*rec)->status;
            ch.after = std::move(**rec);
            out.push_back(std::move(ch));
            continue;
          }
          // The task was deleted: the key is free again.
        }
      }
      t.id = g.next_id++;
      if (t.idempotency_key) keys_in_op[*t.idempotency_key] = out.size();
      t.created_at = t.updated_at = g.now;
      if (t.run_at < g.now) t.run_at = g.now;
      t.status = task_status::pending;
      ch.after = std::move(t); // the op's tasks are not read again
      out.push_back(std::move(ch));
    }
    if (c->refuse_new) {
      for (auto& ch : out)
        if (!ch.existed) return *c->refuse_new;
      return out;
    }
    const bool cache = out.size() <= cached_create_batch;
    for (auto& ch : out) {
      if (ch.existed) continue;
      if (ch.after.idempotency_key) {
        std::string v;
        keys::put_u64(v, ch.after.id);
        g.batch.Put(idem_cf_, *ch.after.idempotency_key, v);
        g.idempotency[*ch.after.idempotency_key] = ch.after.id;
      }
      ch.seq = g.next_seq;
      write_task(g, std::nullopt, ch.after, true, cache || ch.after.idempotency_key);
    }
    return out;
  }
  if (auto* u = std::get_if<update_op>(&op)) {
    auto rec = read_for_update(u->id, g);
    if (!rec) return rec.err();
    if (!*rec) return make_error(errc::not_found, "task " + std::to_string(u->id) + " not found");
    auto before = index_state_of(**rec);
    task after = std::move(**rec);
    if (auto st = u->apply(after); !st) return st.err();
    task_change ch;
    ch.before = before.status;
    ch.seq = u->log_change ? g.next_seq : 0;
    write_task(g, before, after, u->log_change);
    ch.after = std::move(after);
    out.push_back(std::move(ch));
    return out;
  }
  if (auto* p = std::get_if<prune_op>(&op)) return prune(*p, g);
  if (auto* p = std::get_if<promote_op>(&op)) return promote(*p, g);
  if (auto* b = std::get_if<batch_op>(&op)) {
    for (task_id id : b->ids) {
      auto rec = read_for_update(id, g);
      if (!rec) return rec.err();
      if (!*rec) continue;
      task after = **rec;
      if (!b->apply(after)) continue;
      if (b->erase) {
        erase_task(g, **rec, out);
        continue;
      }
      task_change ch;
      ch.before = (*rec)->status;
      ch.seq = g.next_seq;
      write_task(g, index_state_of(**rec), after, true);
      ch.after = std::move(after);
      out.push_back(std::move(ch));
    }
    return out;
  }
  if (auto* c = std::get_if<cursor_op>(&op)) {
    std::string v;
    keys::put_u64(v, c->seq);
    g.batch.Put(meta_cf_, std::string(keys::cursor_prefix) + c->sink, v);
    g.cursor_changes[c->sink] = c->seq;
    return std::vector<task_change>{};
  }
  if (auto* p = std::get_if<pause_op>(&op)) {
    std::string key = std::string(keys::paused_prefix) + p->type;
    if (p->paused)
      g.batch.Put(meta_cf_, key, "1");
    else
      g.batch.Delete(meta_cf_, key);
    g.paused_changes[p->type] = p->paused;
    return out;
  }
  auto& d = std::get<delete_op>(op);
  auto rec = read_for_update(d.id, g);
  if (!rec) return rec.err();
  if (!*rec) return make_error(errc::not_found, "task " + std::to_string(d.id) + " not found");
  if (auto st = check_deletable(**rec); !st) return st.err();
  erase_task(g, **rec, out);
  return out;
}

void store::erase_task(group_state& g, const task& t, std::vector<task_change>& out) {
  auto& b = g.batch;
  b.Delete(tasks_cf_, keys::task_key(t.id));
  g.index_moves.push_back({keys::type_status_key(t.type, t.status, t.id), false});
  if (t.finished_at) b.Delete(finished_cf_, keys::finished_key(t.status, *t.finished_at, t.id));
  if (t.idempotency_key) {
    b.Delete(idem_cf_, *t.idempotency_key);
    g.idempotency.erase(*t.idempotency_key);
  }
  bump_count(g, t.type, t.status, -1);
  task_change ch;
  ch.before = t.status;
  ch.after = t;
  ch.deleted = true;
  ch.seq = g.next_seq;
  b.Put(changes_cf_, keys::change_key(g.next_seq++), encode_change(true, t));
  g.records[t.id] = {};
  out.push_back(std::move(ch));
}

result<std::vector<task_change>> store::prune(const prune_op& op, group_state& g) {
  std::vector<task_change> out;
  std::uint64_t total = 0;
  {
    std::lock_guard lock(mu_);
    for (auto& [type, c] : counts_) total += c[static_cast<int>(op.status)];
  }
  std::string prefix = keys::finished_prefix(op.status);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), finished_cf_));
  for (it->Seek(prefix); it->Valid() && starts_with(it->key(), prefix) && out.size() < op.limit;
       it->Next()) {
    auto k = view(it->key());
    auto finished_at = static_cast<millis>(keys::get_u64(k, 1));
    bool too_many = op.keep_max > 0 && total - out.size() > op.keep_max;
    if (finished_at >= op.finished_before && !too_many) break;
    auto rec = read_for_update(keys::get_u64(k, 9), g);
    if (!rec) return rec.err();
    // The index may trail this group's own writes (a retry, a delete): trust the record.
    if (!*rec || (*rec)->status != op.status || (*rec)->finished_at != finished_at) continue;
    erase_task(g, **rec, out);
  }
  if (!it->status().ok()) return from_status(it->status(), "read finished index");
  return out;
}

result<std::vector<task_change>> store::promote(const promote_op& op, group_state& g) {
  std::vector<task_change> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), schedule_cf_));
  // Keys before promoted_through_ were promoted earlier and new ones never sort there:
  // a new schedule key has run_at > the now of its write >= the now of that promotion.
  for (promoted_through_ ? it->Seek(*promoted_through_) : it->SeekToFirst();
       it->Valid() && out.size() < op.limit; it->Next()) {
    auto k = view(it->key());
    auto run_at = static_cast<millis>(keys::get_u64(k));
    if (run_at > g.now) break;
    promoted_through_ = std::string(k);
    auto rec = read_for_update(keys::get_u64(k, 8), g);
    if (!rec) return rec.err();
    // The index may trail this group's own writes: trust the record.
    if (!*rec || (*rec)->status != task_status::pending || (*rec)->run_at != run_at) continue;
    task_change ch;
    auto before = index_state_of(**rec);
    ch.before = before.status;
    ch.after = std::move(**rec);
    write_task(g, before, ch.after, false); // same record, re-indexed as ready at g.now
    out.push_back(std::move(ch));
  }
  if (!it->status().ok()) return from_status(it->status(), "read schedule index");
  return out;
}

result<std::optional<task>> store::get(task_id id) const {
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions(), tasks_cf_, keys::task_key(id), &v);
  if (st.IsNotFound()) return std::optional<task>{};
  if (!st.ok()) return from_status(st, "read task");
  auto t = decode_task(v);
  if (!t) return make_error(errc::storage_error, "corrupt record for task " + std::to_string(id));
  return std::optional<task>(std::move(*t));
}

namespace {

/// Appends to `ids` the ids after `after` under `prefix` of an id-suffixed index, until
/// `ids` holds `want`.
rocksdb::Status scan_ids(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                         const std::string& prefix, task_id after, std::size_t want,
                         std::vector<task_id>& ids) {
  std::string start = prefix;
  keys::put_u64(start, after + 1);
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(start); it->Valid() && starts_with(it->key(), prefix) && ids.size() < want;
       it->Next())
    ids.push_back(keys::get_u64(view(it->key()), prefix.size()));
  return it->status();
}

/// The same, downwards: ids below `before` (0: from the top), highest first.
rocksdb::Status scan_ids_desc(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                              const std::string& prefix, task_id before, std::size_t want,
                              std::vector<task_id>& ids) {
  if (before == 1) return rocksdb::Status::OK();
  std::string start = prefix;
  keys::put_u64(start, before == 0 ? UINT64_MAX : before - 1);
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekForPrev(start); it->Valid() && starts_with(it->key(), prefix) && ids.size() < want;
       it->Prev())
    ids.push_back(keys::get_u64(view(it->key()), prefix.size()));
  return it->status();
}

} // namespace

result<task_page> store::list(const list_filter& filter) const {
  task_page page;
  const std::size_t limit = std::clamp<std::size_t>(filter.limit, 1, 100000);
  std::vector<task_id> ids;
  ids.reserve(limit + 1);
  rocksdb::Status st;
  auto scan = [&](rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
                  std::vector<task_id>& into) {
    return filter.descending ? scan_ids_desc(*db_, cf, prefix, filter.after, limit + 1, into)
                             : scan_ids(*db_, cf, prefix, filter.after, limit + 1, into);
  };
  if (filter.type && filter.status) {
    st = scan(index_cf_, keys::type_status_prefix(*filter.type, *filter.status), ids);
  } else if (filter.type || filter.status) {
    // Only the (type, status) index exists: a status-only or type-only index would cost
    // more writes per task. Merge its ranges, each at most a page long; types are few
    // (they come from config) and so are statuses.
    std::vector<std::pair<std::string, task_status>> ranges;
    if (filter.type) {
      for (int s = 0; s < task_status_count; ++s)
        ranges.emplace_back(*filter.type, static_cast<task_status>(s));
    } else {
      std::lock_guard lock(mu_);
      for (auto& [type, c] : counts_) ranges.emplace_back(type, *filter.status);
    }
    for (auto& [type, status] : ranges) {
      std::vector<task_id> part;
      st = scan(index_cf_, keys::type_status_prefix(type, status), part);
      if (!st.ok()) break;
      ids.insert(ids.end(), part.begin(), part.end());
    }
    if (filter.descending)
      std::sort(ids.rbegin(), ids.rend());
    else
      std::sort(ids.begin(), ids.end());
    if (ids.size() > limit + 1) ids.resize(limit + 1);
  } else {
    st = scan(tasks_cf_, std::string(), ids);
  }
  if (!st.ok()) return from_status(st, "list tasks");
  bool more = ids.size() > limit;
  if (more) ids.pop_back();
  for (task_id id : ids) {
    auto t = get(id);
    if (!t) return t.err();
    if (*t) page.tasks.push_back(std::move(**t)); // deleted between index and record read
  }
  if (more && !ids.empty()) page.next_after = ids.back();
  return page;
}

namespace {

/// Positions `it` on the first key strictly after `after` (or at `first`).
void seek_after(rocksdb::Iterator& it, const std::string& first,
                const std::optional<std::string>& after) {
  if (!after) {
    it.Seek(first);
    return;
  }
  it.Seek(*after);
  if (it.Valid() && view(it.key()) == *after) it.Next();
}

} // namespace

result<std::vector<ready_entry>> store::ready_page(task_mode lane, std::string_view type,
                                                   const std::optional<ready_entry>& after,
                                                   std::size_t limit) const {
  std::vector<ready_entry> out;
  std::string prefix = keys::ready_prefix(lane, type);
  std::optional<std::string> from;
  if (after) from = keys::ready_key(lane, type, after->priority, after->id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), ready_cf_));
  for (seek_after(*it, prefix, from);
       it->Valid() && starts_with(it->key(), prefix) && out.size() < limit; it->Next()) {
    auto k = view(it->key());
    out.push_back({keys::priority_from_rank(keys::get_u32(k, prefix.size())),
                   keys::get_u64(k, prefix.size() + 4)});
  }
  if (!it->status().ok()) return from_status(it->status(), "read ready index");
  return out;
}

result<std::vector<scheduled_entry>>
store::schedule_page(const std::optional<scheduled_entry>& after, std::size_t limit) const {
  std::vector<scheduled_entry> out;
  std::optional<std::string> from;
  if (after) from = keys::schedule_key(after->run_at, after->id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), schedule_cf_));
  for (seek_after(*it, std::string(), from); it->Valid() && out.size() < limit; it->Next()) {
    auto k = view(it->key());
    out.push_back({static_cast<millis>(keys::get_u64(k)), keys::get_u64(k, 8)});
  }
  if (!it->status().ok()) return from_status(it->status(), "read schedule index");
  return out;
}

result<std::vector<task>> store::tasks_with_status(task_status s, std::size_t limit) const {
  list_filter f;
  f.status = s;
  f.limit = std::min<std::size_t>(limit, 1000);
  std::vector<task> out;
  for (;;) {
    auto page = list(f);
    if (!page) return page.err();
    for (auto& t : page->tasks) out.push_back(std::move(t));
    if (!page->next_after || out.size() >= limit) break;
    f.after = *page->next_after;
  }
  return out;
}

result<std::vector<change_entry>> store::changes_since(std::uint64_t after,
                                                       std::size_t limit) const {
  std::vector<change_entry> out;
  // Entries past the head are written but not yet durable: never hand them out.
  const std::uint64_t head = head_seq();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), changes_cf_));
  for (it->Seek(keys::change_key(after + 1)); it->Valid() && out.size() < limit; it->Next()) {
    if (keys::get_u64(view(it->key())) > head) break;
    auto v = view(it->value());
    if (v.empty()) continue;
    auto t = decode_task(v.substr(1));
    if (!t) return make_error(errc::storage_error, "corrupt change-log entry");
    out.push_back({keys::get_u64(view(it->key())), v[0] == 'd', std::move(*t)});
  }
  if (!it->status().ok()) return from_status(it->status(), "read change log");
  return out;
}

std::uint64_t store::oldest_seq() const {
  std::lock_guard lock(mu_);
  return oldest_seq_;
}

std::uint64_t store::head_seq() const {
  std::lock_guard lock(mu_);
  return head_seq_;
}

counts_map store::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::map<std::string, std::uint64_t> store::table_files() const {
  std::map<std::string, std::uint64_t> out;
  for (auto* h : handles_) {
    rocksdb::ColumnFamilyMetaData md;
    db_->GetColumnFamilyMetaData(h, &md);
    out[md.name] = md.file_count;
  }
  return out;
}

std::set<std::string, std::less<>> store::paused_types() const {
  std::lock_guard lock(mu_);
  return paused_;
}

void store::on_commit(commit_observer fn) {
  std::lock_guard lock(mu_);
  on_commit_ = fn ? std::make_shared<const commit_observer>(std::move(fn)) : nullptr;
}

void store::on_changes(std::function<void(std::uint64_t)> fn) {
  std::lock_guard lock(mu_);
  if (fn)
    on_changes_.push_back(std::move(fn));
  else
    on_changes_.clear();
}

result<std::vector<change_entry>> store::tasks_with_last_seq(task_id after,
                                                             std::size_t limit) const {
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  ro.snapshot = snap;
  std::vector<change_entry> out;
  std::unique_ptr<rocksdb::Iterator> tasks(db_->NewIterator(ro, tasks_cf_));
  for (tasks->Seek(keys::task_key(after + 1)); tasks->Valid() && out.size() < limit;
       tasks->Next()) {
    auto t = decode_task(view(tasks->value()));
    if (!t) continue;
    change_entry e;
    if (!t->change_seqs.empty()) e.seq = t->change_seqs.back();
    e.t = std::move(*t);
    out.push_back(std::move(e));
  }
  auto st = tasks->status();
  tasks.reset();
  db_->ReleaseSnapshot(snap);
  if (!st.ok()) return from_status(st, "read tasks");
  return out;
}

result<std::optional<std::uint64_t>> store::stored_cursor(std::string_view sink) const {
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions(), meta_cf_,
                     std::string(keys::cursor_prefix) + std::string(sink), &v);
  if (st.IsNotFound()) return std::optional<std::uint64_t>{};
  if (!st.ok()) return from_status(st, "read cursor");
  return std::optional<std::uint64_t>{keys::get_u64(v)};
}

void store::hold_changes(const std::string& holder, std::uint64_t seq) {
  std::lock_guard lock(mu_);
  holds_[holder] = seq;
}

void store::release_changes(const std::string& holder) {
  std::lock_guard lock(mu_);
  holds_.erase(holder);
}

result<std::vector<change_entry>> store::task_changes(task_id id, std::size_t limit) const {
  std::vector<change_entry> out;
  auto rec = get(id);
  if (!rec) return rec.err();
  if (!*rec) return out;
  auto& seqs = (*rec)->change_seqs;
  if (seqs.size() > limit) seqs.resize(limit);
  for (auto seq : seqs) {
    std::string v;
    auto st = db_->Get(rocksdb::ReadOptions(), changes_cf_, keys::change_key(seq), &v);
    if (st.IsNotFound()) continue; // trimmed from the change log
    if (!st.ok()) return from_status(st, "read change log");
    if (v.empty()) continue;
    auto t = decode_task(std::string_view(v).substr(1));
    if (!t) return make_error(errc::storage_error, "corrupt change-log entry");
    out.push_back({seq, v[0] == 'd', std::move(*t)});
  }
  return out;
}

} // namespace taskd
