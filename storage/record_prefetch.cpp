#include "storage/record_prefetch.hpp"

#include <algorithm>
#include <string>

#include <pthread.h>

#include "storage/keys.hpp"
#include "storage/rocks_support.hpp"

namespace taskd {

record_prefetcher::record_prefetcher(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tasks_cf)
    : db_(db), tasks_cf_(tasks_cf) {
  wanted_.reserve(read_batch);
  reader_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "store:reader");
    run();
  });
}

record_prefetcher::~record_prefetcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  reader_.join();
}

void record_prefetcher::want(task_id id) {
  std::lock_guard lock(mu_);
  if (wanted_.size() >= max_wanted) return;
  wanted_.push_back(id);
  // Only the first id of a burst wakes the reader: it takes what piled up meanwhile.
  if (wanted_.size() == 1) cv_.notify_one();
}

std::optional<record_prefetcher::copy> record_prefetcher::take(task_id id) {
  std::lock_guard lock(mu_);
  auto it = copies_.find(id);
  if (it == copies_.end()) return std::nullopt;
  std::optional<copy> c(std::move(it->second));
  copies_.erase(it);
  return c;
}

void record_prefetcher::run() {
  std::vector<task_id> ids;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !wanted_.empty(); });
      if (stopping_) return;
      const std::size_t n = std::min(wanted_.size(), read_batch);
      ids.assign(wanted_.begin(), wanted_.begin() + static_cast<std::ptrdiff_t>(n));
      wanted_.erase(wanted_.begin(), wanted_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    read(ids);
  }
}

void record_prefetcher::read(std::vector<task_id>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::string> key_bytes;
  std::vector<rocksdb::Slice> keys;
  key_bytes.reserve(ids.size());
  keys.reserve(ids.size());
  for (task_id id : ids) key_bytes.push_back(keys::task_key(id));
  for (auto& k : key_bytes) keys.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(ids.size());
  std::vector<rocksdb::Status> statuses(ids.size());
  // Taken before the reads: they reflect every write up to it (and maybe later ones).
  const std::uint64_t read_at = db_.GetLatestSequenceNumber();
  db_.MultiGet(rocksdb::ReadOptions(), tasks_cf_, ids.size(), keys.data(), values.data(),
               statuses.data(), /*sorted_input=*/true);
  std::vector<std::pair<task_id, task>> decoded;
  decoded.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    // Anything but a record read whole is left to the writer, which reports it.
    if (!statuses[i].ok()) continue;
    if (auto t = decode_task(rocks::view(values[i]))) decoded.emplace_back(ids[i], std::move(*t));
  }
  std::lock_guard lock(mu_);
  // Copies nobody claimed (their update found the record cached after all) are dropped
  // wholesale once too many pile up: only an optimization is lost.
  if (copies_.size() + decoded.size() > max_copies) copies_.clear();
  for (auto& [id, t] : decoded) copies_[id] = copy{std::move(t), read_at};
}

} // namespace taskd
