// WebSocket client messages on /api/v1/events: any text -> a subscription or an error.
#include <string_view>

#include "src/core/events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)taskd::parse_subscribe(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
