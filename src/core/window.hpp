#pragma once
// A bounded in-memory window over one ordered on-disk index (the ready index of a lane,
// or the schedule index). The scheduler dispatches from windows so that memory does not
// grow with the number of pending tasks; the window is refilled from the index in pages.
//
// Invariant: every index key <= `bound` is in the window or already taken for dispatch;
// keys above `bound` are on disk only. `complete` means the bound is +infinity. So a
// refill reads strictly after `bound` and never walks back over the (deleted) keys already
// dispatched. Entries are hints: a stale or duplicated key is harmless because the start
// transition re-checks the record; what must never happen is losing a key of the index.

#include <cstddef>
#include <optional>
#include <set>
#include <vector>

namespace taskd {

template <class Key> class bounded_window {
public:
  explicit bounded_window(std::size_t capacity = 4096) : capacity_(capacity) {}

  /// A key was committed to the index.
  void offer(const Key& k) {
    if (loading_) {
      buffered_.push_back(k);
      return;
    }
    if (complete_ || (bound_ && !(*bound_ < k))) {
      keys_.insert(k);
      trim();
    }
  }

  /// The key left the index (cancelled, deleted).
  void erase(const Key& k) { keys_.erase(k); }

  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }
  const Key& front() const { return *keys_.begin(); }
  Key pop_front() {
    Key k = *keys_.begin();
    keys_.erase(keys_.begin());
    return k;
  }

  /// True when the index may hold keys the window lacks and it is running low.
  bool wants_refill() const { return !complete_ && !loading_ && keys_.size() <= capacity_ / 4; }
  std::size_t capacity() const { return capacity_; }
  bool loading() const { return loading_; }
  /// Where the next page starts (exclusive); nullopt: from the beginning of the index.
  const std::optional<Key>& refill_after() const { return bound_; }

  /// Marks a page read as under way: offers are held until `finish_refill`.
  void begin_refill() { loading_ = true; }

  /// `page` is the first keys of the index after `refill_after()`, read at some moment
  /// after `begin_refill`, with `is_last` when nothing follows. `skip(k)` drops keys
  /// already taken.
  template <class Skip> void finish_refill(const std::vector<Key>& page, bool is_last, Skip skip) {
    for (const auto& k : page)
      if (!skip(k)) keys_.insert(k);
    if (is_last)
      complete_ = true;
    else if (!page.empty())
      bound_ = page.back();
    trim();
    loading_ = false;
    std::vector<Key> held;
    held.swap(buffered_);
    for (const auto& k : held) offer(k);
  }

  /// The read failed: keep what we have and try again later.
  void abort_refill() {
    loading_ = false;
    std::vector<Key> held;
    held.swap(buffered_);
    for (const auto& k : held) offer(k);
  }

  /// After start-up: the index may hold anything, the first refill decides.
  void mark_incomplete() {
    complete_ = false;
    bound_.reset();
    keys_.clear();
  }

private:
  void trim() {
    while (keys_.size() > capacity_) {
      keys_.erase(std::prev(keys_.end()));
      complete_ = false;
      bound_ = *keys_.rbegin();
    }
  }

  std::size_t capacity_;
  std::set<Key> keys_;
  bool complete_ = true;
  std::optional<Key> bound_; // meaningful only while !complete_
  bool loading_ = false;
  std::vector<Key> buffered_;
};

} // namespace taskd
