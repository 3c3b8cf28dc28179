// taskd-bench: the load generator behind scripts/bench.sh.
//
//   taskd-bench --url http://127.0.0.1:PORT --scenario NAME [--scale S] [--conc C]
//               [--pid PID] [--data-dir DIR] [--duration S] [--taskd-version V]
//               [--phase PHASE --state FILE] [--restart-at-ms MS] [--restart-ready-s S]
//               [--shutdown-s S]
//   taskd-bench --url http://127.0.0.1:PORT --wait-ready SECONDS
//
// Prints exactly one JSON object (one line) on stdout per run; progress goes to stderr.
// Scenarios: enqueue_bulk, enqueue_bulk_held, enqueue_single, enqueue_single_held,
// process_c50, process_c200 (phases fill, drain), process_c50_delayed,
// process_c200_delayed, e2e_latency, scale (phases fill, query, or none). The bench config
// (written by scripts/bench.sh) must define the types they use: bulk, held, drain50,
// drain200, e2e, scale. All HTTP runs on one io_context thread, so the benchmark's own
// CPU use stays small and is reported (bench_cpu_s) next to taskd's.

#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>

#include <boost/json.hpp>

#include "bench/json_line.hpp"
#include "bench/scenarios.hpp"
#include "bench/stats.hpp"
#include "bench/taskd_api.hpp"

namespace {

void usage() {
  std::cerr << "usage: taskd-bench --url http://127.0.0.1:PORT --scenario NAME [--scale S]\n"
               "         [--conc C] [--pid PID] [--data-dir DIR] [--duration S]\n"
               "         [--taskd-version V] [--phase PHASE --state FILE]\n"
               "         [--restart-at-ms MS] [--restart-ready-s S] [--shutdown-s S]\n"
               "       taskd-bench --url URL --wait-ready SECONDS\n"
               "scenarios: enqueue_bulk enqueue_bulk_held enqueue_single enqueue_single_held\n"
               "           process_c50 process_c200 (--phase fill, then drain)\n"
               "           process_c50_delayed process_c200_delayed e2e_latency e2e_worker\n"
               "           scale (--phase fill, then query; or no phase)\n"
               "           flow [--flow-tasks N]\n"
               "           soak [--rate R] [--duration S]\n";
}

} // namespace

int main(int argc, char** argv) {
  bench::options o;
  std::string version;
  double wait_ready_s = -1;
  const std::map<std::string, std::function<void(const std::string&)>> setters = {
      {"--url", [&](const std::string& v) { o.url = v; }},
      {"--scenario", [&](const std::string& v) { o.scenario = v; }},
      {"--scale", [&](const std::string& v) { o.scale = std::stod(v); }},
      {"--flow-tasks", [&](const std::string& v) { o.flow_tasks = std::stoull(v); }},
      {"--conc", [&](const std::string& v) { o.conc = std::stoi(v); }},
      {"--pid", [&](const std::string& v) { o.pid = std::stoi(v); }},
      {"--data-dir", [&](const std::string& v) { o.data_dir = v; }},
      {"--duration", [&](const std::string& v) { o.duration_s = std::stod(v); }},
      {"--rate", [&](const std::string& v) { o.rate = std::stod(v); }},
      {"--phase", [&](const std::string& v) { o.phase = v; }},
      {"--state", [&](const std::string& v) { o.state_file = v; }},
      {"--restart-at-ms", [&](const std::string& v) { o.restart_at_ms = std::stoll(v); }},
      {"--restart-ready-s", [&](const std::string& v) { o.restart_ready_s = std::stod(v); }},
      {"--shutdown-s", [&](const std::string& v) { o.shutdown_s = std::stod(v); }},
      {"--taskd-version", [&](const std::string& v) { version = v; }},
      {"--wait-ready", [&](const std::string& v) { wait_ready_s = std::stod(v); }},
  };
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      usage();
      return 0;
    }
    if (i + 1 >= argc) {
      std::cerr << k << ": missing value\n";
      usage();
      return 2;
    }
    std::string v = argv[++i];
    auto set = setters.find(k);
    if (set == setters.end()) {
      std::cerr << "unknown option " << k << "\n";
      usage();
      return 2;
    }
    try {
      set->second(v);
    } catch (const std::exception&) {
      std::cerr << k << ": bad value " << v << "\n";
      return 2;
    }
  }
  auto ep = bench::parse_url(o.url);
  if (!ep) {
    std::cerr << "--url: expected http://HOST:PORT, got \"" << o.url << "\"\n";
    return 2;
  }
  o.ep = *ep;
  bench::net::io_context ioc(1);

  if (wait_ready_s >= 0) {
    double s = bench::wait_ready(ioc, o.ep, wait_ready_s);
    if (s < 0) return 1;
    std::printf("%.3f\n", s);
    return 0;
  }

  boost::json::object out;
  out["scenario"] = o.scenario;
  out["mode"] = "sync"; // taskd's only durability: every ack is on a synced WAL
  out["rep"] = 1;
  out["durability"] = "sync";
  out["peer_mode_equivalent"] = "always";
  out["taskd_version"] = version;
  out["scale"] = o.scale;
  bench::scenario_result r;
  try {
    const std::map<std::string, std::function<bench::scenario_result()>> scenarios = {
        {"enqueue_bulk", [&] { return bench::enqueue_bulk(ioc, o, false); }},
        {"enqueue_bulk_held", [&] { return bench::enqueue_bulk(ioc, o, true); }},
        {"enqueue_single", [&] { return bench::enqueue_single(ioc, o, false); }},
        {"enqueue_single_held", [&] { return bench::enqueue_single(ioc, o, true); }},
        {"process_c50", [&] { return bench::process(ioc, o, 50); }},
        {"process_c200", [&] { return bench::process(ioc, o, 200); }},
        {"process_c50_delayed", [&] { return bench::process_delayed(ioc, o, 50); }},
        {"process_c200_delayed", [&] { return bench::process_delayed(ioc, o, 200); }},
        {"e2e_latency", [&] { return bench::e2e_latency(ioc, o); }},
        {"scale", [&] { return bench::scale(ioc, o); }},
        {"flow", [&] { return bench::flow(ioc, o); }},
        {"worker_process", [&] { return bench::worker_process(ioc, o); }},
        {"e2e_worker", [&] { return bench::e2e_worker(ioc, o); }},
        {"soak", [&] { return bench::soak(ioc, o); }},
    };
    auto run = scenarios.find(o.scenario);
    if (run == scenarios.end()) {
      std::cerr << "unknown scenario \"" << o.scenario << "\"\n";
      usage();
      return 2;
    }
    r = run->second();
  } catch (const std::exception& e) {
    std::cerr << "[taskd-bench] FATAL: " << e.what() << "\n";
    out["error"] = e.what();
    std::cout << bench::to_line(out) << std::endl;
    return 1;
  }
  if (o.phase == "fill") return 0; // the second phase prints the line
  for (auto& [k, v] : r) out[k] = v;
  out["versions"] = boost::json::object{{"taskd", version}, {"boost", BOOST_LIB_VERSION}};
  std::cout << bench::to_line(out) << std::endl;
  return 0;
}
