#pragma once
// Reads the records the store writer is about to update, on a thread of their own
// (internal to storage/).

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>

#include "src/core/task.hpp"

namespace taskd {

/// An update whose record is not in the writer's cache (a backlog drained after a restart,
/// a task idle for a while) costs the writer a RocksDB read and a decode, about as much as
/// the rest of the update. Told of such an update when it is queued, this reads and
/// decodes the record meanwhile, so the writer usually finds it done.
///
/// A copy is only as good as the moment it was read: `read_at` is the sequence number
/// every write up to which it reflects. The writer uses it only when no later write of the
/// record can be missing from it (see record_cache::evicted_through); otherwise it reads
/// the record itself. Bounded: past `max_wanted` waiting ids or `max_copies` unclaimed
/// copies, requests are dropped (the writer then reads for itself).
class record_prefetcher {
public:
  struct copy {
    task t;
    std::uint64_t read_at = 0;
  };

  record_prefetcher(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tasks_cf);
  ~record_prefetcher();
  record_prefetcher(const record_prefetcher&) = delete;
  record_prefetcher& operator=(const record_prefetcher&) = delete;

  /// Thread-safe: asks for task `id`'s record to be read.
  void want(task_id id);
  /// Thread-safe: the copy read for `id`, if one is done; it is handed over once.
  std::optional<copy> take(task_id id);

  static constexpr std::size_t max_wanted = 4096;
  static constexpr std::size_t max_copies = 8192;
  /// Ids read per RocksDB MultiGet.
  static constexpr std::size_t read_batch = 128;

private:
  void run();
  void read(std::vector<task_id>& ids);

  rocksdb::DB& db_;
  rocksdb::ColumnFamilyHandle* tasks_cf_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<task_id> wanted_;
  std::unordered_map<task_id, copy> copies_;
  bool stopping_ = false;
  std::thread reader_;
};

} // namespace taskd
