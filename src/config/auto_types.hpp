#pragma once
// Task types declared at run time by the first Faktory PUSH of an unknown jobtype
// (`[faktory] auto_types = true`). They are worker types with the default policy and the
// queue of that first job. The set only grows (bounded), so the pointers it hands out
// stay valid for the process's life and may be read from any thread.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/config.hpp"

namespace taskd {

class auto_type_registry {
public:
  static constexpr std::size_t max_types = 1000;

  const type_config* find(std::string_view name) const;
  /// The type, declared now if new; nullptr when max_types are declared already.
  const type_config* declare(std::string_view name, std::string_view queue);
  std::vector<const type_config*> all() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<type_config>, std::less<>> types_;
};

} // namespace taskd
