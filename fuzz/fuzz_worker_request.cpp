// The worker API's bodies (lease and the four reports): any bytes, never a crash.
#include <boost/json.hpp>

#include "src/core/json_parse.hpp"
#include "src/config/config.hpp"
#include "src/core/worker_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const taskd::config cfg = [] {
    auto c = taskd::parse_config("[types.render]\nhandler = \"worker\"\n");
    return std::move(c).value();
  }();
  if (size == 0) return 0;
  boost::system::error_code ec;
  auto v =
      taskd::parse_json(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), ec);
  if (ec) return 0;
  switch (data[0] % 5) {
  case 0: (void)taskd::parse_lease_request(v, cfg); break;
  case 1: (void)taskd::parse_worker_call(taskd::worker_report::heartbeat, 1, v); break;
  case 2: (void)taskd::parse_worker_call(taskd::worker_report::complete, 1, v); break;
  case 3: (void)taskd::parse_worker_call(taskd::worker_report::fail, 1, v); break;
  default: (void)taskd::parse_worker_call(taskd::worker_report::log, 1, v); break;
  }
  return 0;
}
