#pragma once
// The store writer's copies of the records it wrote last (internal to storage/).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "src/core/task.hpp"

namespace taskd {

/// A task is rewritten at each transition, usually moments after the last one; reading
/// it back from RocksDB costs a memtable lookup and a JSON parse on the writer, the one
/// thread every write waits for. Holds the newest state of the most recently written
/// records, oldest dropped first, within `budget_bytes` of memory as estimated from each
/// record's encoded size (a decoded task holds about twice its JSON, plus the struct).
/// Only what a written batch holds goes in, each with `written_seq`: the RocksDB sequence
/// number its batch was written at. Not thread-safe: the store guards it.
class record_cache {
public:
  explicit record_cache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  const task* find(task_id id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second.t;
  }
  bool contains(task_id id) const { return entries_.count(id) != 0; }

  void put(task t, std::size_t encoded_bytes, std::uint64_t written_seq) {
    const std::size_t cost = cost_of(encoded_bytes);
    if (cost > budget_) {
      erase(t.id, written_seq);
      return;
    }
    auto id = t.id;
    auto [it, added] = entries_.try_emplace(id);
    if (added)
      order_.push_back(id);
    else
      bytes_ -= it->second.bytes;
    it->second = entry{std::move(t), cost, written_seq};
    bytes_ += cost;
    trim();
  }

  /// The record was deleted by the batch written at `written_seq`.
  void erase(task_id id, std::uint64_t written_seq) {
    drop(id);
    evicted_through_ = std::max(evicted_through_, written_seq);
    trim();
  }

  /// The newest `written_seq` among the records dropped or erased. A record read from
  /// RocksDB at a sequence number at least this one is the newest state of its task, unless
  /// the cache holds that task: every later write of a record is here or raised this.
  std::uint64_t evicted_through() const { return evicted_through_; }

  /// The memory a record of `encoded_bytes` is charged with.
  static std::size_t cost_of(std::size_t encoded_bytes) {
    return 2 * encoded_bytes + sizeof(entry) + 64;
  }

  std::size_t size() const { return entries_.size(); }
  std::size_t bytes() const { return bytes_; }

private:
  void drop(task_id id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    bytes_ -= it->second.bytes;
    evicted_through_ = std::max(evicted_through_, it->second.written_seq);
    entries_.erase(it);
  }

  /// Drops the oldest until within budget. An erased id stays in order_ until it comes up
  /// (dropping a missing id is harmless); once most of order_ is such ids, it is rebuilt
  /// from the live ones, so it stays within twice the entries.
  void trim() {
    while (bytes_ > budget_ && !order_.empty()) {
      drop(order_.front());
      order_.pop_front();
    }
    if (order_.size() <= 2 * entries_.size() + 64) return;
    std::deque<task_id> live;
    std::unordered_set<task_id> seen;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) // newest position wins
      if (entries_.count(*it) && seen.insert(*it).second) live.push_front(*it);
    order_.swap(live);
  }

  struct entry {
    task t;
    std::size_t bytes = 0;
    std::uint64_t written_seq = 0;
  };
  std::size_t budget_;
  std::size_t bytes_ = 0;
  std::uint64_t evicted_through_ = 0;
  std::unordered_map<task_id, entry> entries_;
  std::deque<task_id> order_; // ids in the order they were first cached
};

} // namespace taskd
