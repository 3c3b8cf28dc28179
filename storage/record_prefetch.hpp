#pragma once
// Reads the records the store writer is about to update, on a thread of their own
// (internal to storage/).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <rocksdb/db.h>

#include "src/core/task.hpp"

namespace taskd {

/// An update whose record is not in the writer's cache (a backlog drained after a restart,
/// a task idle for a while) costs the writer a RocksDB read and a decode, about as much as
/// the rest of the update. Told of such an update when it is queued, this reads and
/// decodes the record meanwhile, so the writer usually finds it done.
class record_prefetcher {
public:
  /// One queued update's record, read ahead. Shared by the queued operation and the
  /// reader: whichever lets go last frees it, so nothing outlives the operation for long.
  struct slot {
    explicit slot(task_id for_id) : id(for_id) {}
    const task_id id;
    /// The record as it was at sequence number `read_at` (every write up to it is in
    /// the copy), once read. The writer uses it only if no later write of the record can
    /// be missing from it (see record_cache::evicted_through); otherwise, or while it is
    /// not read yet, it reads the record itself.
    std::optional<task> take(std::uint64_t& read_at);

  private:
    friend class record_prefetcher;
    std::mutex mu_;
    std::optional<task> copy_;
    std::uint64_t read_at_ = 0;
  };

  record_prefetcher(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tasks_cf);
  ~record_prefetcher();
  record_prefetcher(const record_prefetcher&) = delete;
  record_prefetcher& operator=(const record_prefetcher&) = delete;

  /// Thread-safe: asks for `s`'s record to be read. Past `max_waiting` slots waiting to be
  /// read, the request is dropped (the writer then reads for itself).
  void want(std::shared_ptr<slot> s);

  static constexpr std::size_t max_waiting = 4096;
  /// Records read per RocksDB MultiGet.
  static constexpr std::size_t read_batch = 128;

private:
  void run();
  void read(std::vector<std::shared_ptr<slot>>& slots);

  rocksdb::DB& db_;
  rocksdb::ColumnFamilyHandle* tasks_cf_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<slot>> waiting_;
  bool stopping_ = false;
  std::thread reader_;
};

} // namespace taskd
