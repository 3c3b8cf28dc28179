#include "src/config/auto_types.hpp"

namespace taskd {

const type_config* auto_type_registry::find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

const type_config* auto_type_registry::declare(std::string_view name, std::string_view queue) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = types_.find(name); it != types_.end()) return it->second.get();
  if (types_.size() >= max_types) return nullptr;
  auto tc = std::make_unique<type_config>();
  tc->name = std::string(name);
  tc->handler = handler_kind::worker;
  tc->queue = queue.empty() ? "default" : std::string(queue);
  return types_.emplace(tc->name, std::move(tc)).first->second.get();
}

std::vector<const type_config*> auto_type_registry::all() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const type_config*> out;
  for (const auto& [name, tc] : types_) out.push_back(tc.get());
  return out;
}

} // namespace taskd
