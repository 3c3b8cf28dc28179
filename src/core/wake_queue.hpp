#pragma once
// A queue many threads push to and one consumer drains, which is woken only when needed.

#include <mutex>
#include <vector>

namespace taskd {

/// The producer that finds the queue idle (no wake-up outstanding since the consumer's
/// last take) is told to wake the consumer; the others are not. Many store callbacks per
/// commit group thus cost the scheduler one message instead of one each.
///
/// Order: items come out in push order. A producer that pushes and then causes any other
/// message to the consumer has its item taken first, since the wake-up it sent, or the
/// one outstanding that it relied on, was sent before.
template <class T> class wake_queue {
public:
  /// True when the caller must wake the consumer.
  bool push(T item) {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(item));
    if (wake_outstanding_) return false;
    wake_outstanding_ = true;
    return true;
  }

  /// Everything pushed so far, oldest first; the next push wakes the consumer again.
  std::vector<T> take() {
    std::vector<T> out;
    std::lock_guard lock(mu_);
    wake_outstanding_ = false;
    out.swap(items_);
    return out;
  }

private:
  std::mutex mu_;
  std::vector<T> items_;
  bool wake_outstanding_ = false;
};

} // namespace taskd
