#pragma once
// The store writer's copies of the records it wrote last (internal to storage/).

#include <cstddef>
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
/// Only the writer thread uses it, and only what a written batch holds goes in.
class record_cache {
public:
  explicit record_cache(std::size_t budget_bytes) : budget_(budget_bytes) {}

  const task* find(task_id id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second.t;
  }

  void put(task t, std::size_t encoded_bytes) {
    const std::size_t cost = cost_of(encoded_bytes);
    if (cost > budget_) {
      erase(t.id);
      return;
    }
    auto id = t.id;
    auto [it, added] = entries_.try_emplace(id);
    if (added)
      order_.push_back(id);
    else
      bytes_ -= it->second.bytes;
    it->second = entry{std::move(t), cost};
    bytes_ += cost;
    trim();
  }

  void erase(task_id id) {
    drop(id);
    trim();
  }

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
  };
  std::size_t budget_;
  std::size_t bytes_ = 0;
  std::unordered_map<task_id, entry> entries_;
  std::deque<task_id> order_; // ids in the order they were first cached
};

} // namespace taskd
