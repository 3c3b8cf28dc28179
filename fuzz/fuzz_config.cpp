// The TOML config loader: any text -> a config or a list of problems, never a crash.
#include <string_view>

#include "src/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)taskd::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  return 0;
}
