#include "src/core/admission.hpp"

namespace taskd {

status pending_ledger::admit(const std::map<std::string, std::uint64_t, std::less<>>& wanted) {
  std::uint64_t n = 0;
  for (auto& [type, count] : wanted) {
    n += count;
    const type_config* tc = find_type(*cfg_, type);
    if (tc && tc->max_pending && of(type) + count > *tc->max_pending) {
      return make_error(errc::too_many_pending, "type " + type +
                                                    " has reached its pending limit of " +
                                                    std::to_string(*tc->max_pending) + " tasks");
    }
  }
  if (total_ + n > cfg_->limits.max_pending) {
    return make_error(errc::too_many_pending, "pending limit of " +
                                                  std::to_string(cfg_->limits.max_pending) +
                                                  " tasks reached");
  }
  for (auto& [type, count] : wanted) add(type, static_cast<std::int64_t>(count));
  return ok_status();
}

void pending_ledger::add(const std::string& type, std::int64_t delta) {
  auto& c = by_type_[type];
  c = static_cast<std::uint64_t>(std::max<std::int64_t>(0, static_cast<std::int64_t>(c) + delta));
  total_ = static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, static_cast<std::int64_t>(total_) + delta));
}

std::uint64_t pending_ledger::of(const std::string& type) const {
  auto it = by_type_.find(type);
  return it == by_type_.end() ? 0 : it->second;
}

} // namespace taskd
