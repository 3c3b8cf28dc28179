#include "storage/record_prefetch.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <pthread.h>

#include "storage/keys.hpp"
#include "storage/rocks_support.hpp"

namespace taskd {

std::optional<task> record_prefetcher::slot::take(std::uint64_t& read_at) {
  std::lock_guard lock(mu_);
  read_at = read_at_;
  return std::exchange(copy_, std::nullopt);
}

record_prefetcher::record_prefetcher(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* tasks_cf)
    : db_(db), tasks_cf_(tasks_cf) {
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

void record_prefetcher::want(std::shared_ptr<slot> s) {
  std::lock_guard lock(mu_);
  if (waiting_.size() >= max_waiting) return;
  waiting_.push_back(std::move(s));
  // Only the first of a burst wakes the reader: it takes what piled up meanwhile.
  if (waiting_.size() == 1) cv_.notify_one();
}

void record_prefetcher::run() {
  std::vector<std::shared_ptr<slot>> slots;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
      slots.clear();
      while (!waiting_.empty() && slots.size() < read_batch) {
        // Held by nobody else: its operation was applied already.
        if (waiting_.front().use_count() > 1) slots.push_back(std::move(waiting_.front()));
        waiting_.pop_front();
      }
    }
    if (!slots.empty()) read(slots);
  }
}

void record_prefetcher::read(std::vector<std::shared_ptr<slot>>& slots) {
  std::sort(slots.begin(), slots.end(), [](auto& a, auto& b) { return a->id < b->id; });
  std::vector<std::string> key_bytes;
  std::vector<rocksdb::Slice> keys;
  key_bytes.reserve(slots.size());
  keys.reserve(slots.size());
  for (auto& s : slots) key_bytes.push_back(keys::task_key(s->id));
  for (auto& k : key_bytes) keys.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(slots.size());
  std::vector<rocksdb::Status> statuses(slots.size());
  // Taken before the reads: they reflect every write up to it (and maybe later ones).
  const std::uint64_t read_at = db_.GetLatestSequenceNumber();
  db_.MultiGet(rocksdb::ReadOptions(), tasks_cf_, slots.size(), keys.data(), values.data(),
               statuses.data(), /*sorted_input=*/true);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    // Anything but a record read whole is left to the writer, which reports it.
    if (!statuses[i].ok()) continue;
    auto t = decode_task(rocks::view(values[i]));
    if (!t) continue;
    std::lock_guard lock(slots[i]->mu_);
    slots[i]->copy_ = std::move(t);
    slots[i]->read_at_ = read_at;
  }
  slots.clear(); // let go: a slot whose operation is done is freed here
}

} // namespace taskd
