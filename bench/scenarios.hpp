#pragma once
// The benchmark scenarios. Each returns the scenario's fields of the result line (main adds
// the common header: scenario, mode, durability, version). Names and fields follow the
// BullMQ peer benchmark (/work/shared/bench/peer-bullmq) so the two can be compared.

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "bench/http_client.hpp"

namespace bench {

struct options {
  std::string url;
  tcp::endpoint ep;
  std::string scenario;
  double scale = 1;
  int conc = 0;          // 0: the scenario's default
  int pid = 0;           // taskd's pid, for RSS and CPU (0: not measured)
  std::string data_dir;  // taskd's data dir, for its size on disk
  double duration_s = 0; // e2e_latency: sending time (0: 15 s)
  // Scenarios split around a restart of taskd (done by scripts/bench.sh): process_cN
  // ("fill", "drain") and scale ("fill", "query"). The first phase leaves its results in
  // `state_file` for the second, which prints the line.
  std::string phase;
  std::string state_file;
  double restart_ready_s = -1;    // measured by bench.sh: taskd exec -> /readyz 200
  double shutdown_s = -1;         // measured by bench.sh: SIGTERM -> exit
  std::int64_t restart_at_ms = 0; // wall clock just before the restarted taskd was exec'd
  std::uint64_t flow_tasks = 0;   // flow: tasks through (0: 2,000,000 x scale)
  double rate = 0;                // soak: creates per second (0: 3,000)
};

using scenario_result = boost::json::object;

scenario_result enqueue_bulk(net::io_context& ioc, const options& o, bool held);
scenario_result enqueue_single(net::io_context& ioc, const options& o, bool held);
/// process_cN: "fill" under a config where the type runs one task at a time, "drain"
/// after bench.sh restarted taskd with the type at concurrency N.
scenario_result process(net::io_context& ioc, const options& o, int concurrency);
/// process_cN_delayed: one taskd; the tasks are created with a common run_at instead.
scenario_result process_delayed(net::io_context& ioc, const options& o, int concurrency);
scenario_result e2e_latency(net::io_context& ioc, const options& o);
/// soak (scripts/soak.sh): --rate R creates/s for --duration S seconds; RSS, open fds and
/// create p99 per window, and whether they stayed flat.
scenario_result soak(net::io_context& ioc, const options& o);
/// Tasks flowing through under retention: RSS and disk over time (they should stay flat).
scenario_result flow(net::io_context& ioc, const options& o);
/// Remote workers over the HTTP worker API drain a worker type (2 x 50 slots).
scenario_result worker_process(net::io_context& ioc, const options& o);
scenario_result e2e_worker(net::io_context& ioc, const options& o);
/// Returns an empty object for the "fill" phase (its results go to the state file).
scenario_result scale(net::io_context& ioc, const options& o);

} // namespace bench
