#pragma once
// Counts events over the last minute in one-second buckets: constant memory, O(1) add.

#include <array>
#include <cstdint>

#include "src/core/task.hpp"

namespace taskd {

class minute_counter {
public:
  void add(millis now, std::uint64_t n = 1) {
    auto sec = now / 1000;
    auto& b = buckets_[static_cast<std::size_t>(sec % 60)];
    if (b.second != sec) b = {sec, 0};
    b.count += n;
  }
  /// Events in the 60 seconds up to and including the current one.
  std::uint64_t last_minute(millis now) const {
    auto sec = now / 1000;
    std::uint64_t sum = 0;
    for (const auto& b : buckets_)
      if (b.second > sec - 60 && b.second <= sec) sum += b.count;
    return sum;
  }

private:
  struct bucket {
    millis second = -1;
    std::uint64_t count = 0;
  };
  std::array<bucket, 60> buckets_{};
};

} // namespace taskd
