// Faktory PUSH payloads: any bytes -> JSON -> a task (and back to a job), never a crash.
#include <boost/json.hpp>

#include "src/core/json_parse.hpp"
#include "src/config/config.hpp"
#include "src/core/faktory_job.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const taskd::config cfg = [] {
    auto c = taskd::parse_config("[types.Resize]\nhandler = \"worker\"\nqueue = \"images\"\n");
    return std::move(c).value();
  }();
  boost::system::error_code ec;
  auto v = taskd::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), ec);
  if (ec) return 0;
  if (auto t = taskd::task_from_faktory_job(v, cfg, 1700000000000))
    (void)taskd::faktory_job_from_task(*t, cfg);
  return 0;
}
