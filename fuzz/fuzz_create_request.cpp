// POST /api/v1/tasks and /batch bodies: any bytes -> JSON -> validation, never a crash.
#include <boost/json.hpp>

#include "src/core/json_parse.hpp"
#include "src/config/config.hpp"
#include "src/core/create_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const taskd::config cfg = taskd::default_config();
  boost::system::error_code ec;
  auto v = taskd::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  if (auto t = taskd::parse_create_request(v, cfg, 1700000000000)) {
    auto back = taskd::decode_task(taskd::encode_task(*t));
    if (!back || back->type != t->type) __builtin_trap(); // the record must round-trip
  }
  (void)taskd::parse_batch_request(v, cfg, 1700000000000);
  return 0;
}
