#pragma once
// Admission (backpressure) and pending accounting as plain logic the scheduler drives.

#include <cstdint>
#include <map>
#include <string>

#include "src/config/config.hpp"
#include "src/core/error.hpp"

namespace taskd {

/// Pending tasks (including delayed ones and creates not yet durable) by type and in total.
class pending_ledger {
public:
  explicit pending_ledger(const config& cfg) : cfg_(&cfg) {}

  /// Refuses with too_many_pending when `wanted` more tasks would cross the global or a
  /// per-type bound; otherwise reserves them. All or nothing.
  status admit(const std::map<std::string, std::uint64_t, std::less<>>& wanted);
  void add(const std::string& type, std::int64_t delta);
  std::uint64_t total() const { return total_; }
  std::uint64_t of(const std::string& type) const;

private:
  const config* cfg_;
  std::uint64_t total_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> by_type_;
};

} // namespace taskd
