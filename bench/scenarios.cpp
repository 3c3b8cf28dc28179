#include "bench/scenarios.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "bench/open_loop.hpp"
#include "bench/stats.hpp"
#include "bench/taskd_api.hpp"
#include "src/core/clock.hpp"

namespace bench {

namespace {

constexpr std::uint64_t chunk = 1000; // tasks per batch request, as the peer's addBulk chunks
// Delays that keep tasks pending for the whole scenario (they never become due).
const std::string hold_an_hour = ",\"delay_ms\":3600000";
const std::string hold_a_day = ",\"delay_ms\":86400000";

void log(const std::string& msg) { std::cerr << "[taskd-bench] " << msg << std::endl; }

std::uint64_t scaled(double base, double scale) {
  return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(base * scale)));
}

double mb(std::uint64_t bytes) { return round_to(static_cast<double>(bytes) / (1024 * 1024), 1); }

} // namespace

// ---------------------------------------------------------------------------------------
// enqueue_bulk: N tasks by POST /tasks/batch, 1,000 per request, one request in flight.
// Type `bulk` is a running noop type, so taskd starts and completes tasks while the batches
// come in (its normal behaviour; the peer has no worker during its enqueue). The `held`
// variant creates them 1 h in the future instead, so nothing runs: the peer's situation.
scenario_result enqueue_bulk(net::io_context& ioc, const options& o, bool held) {
  const std::uint64_t n = scaled(100000, o.scale);
  const std::string type = held ? "held" : "bulk";
  const std::string extra = held ? hold_an_hour : "";
  blocking_client c(ioc, o.ep);
  c.get("/readyz"); // connect outside the measurement
  error_tally errors;
  std::vector<double> lat;
  std::uint64_t created = 0;
  meter m(o.pid);
  m.start();
  auto t0 = steady::now();
  for (std::uint64_t i = 0; i < n; i += chunk) {
    std::uint64_t k = std::min(chunk, n - i);
    auto body = batch_body(type, i, k, extra);
    auto t = steady::now();
    auto r = c.post("/api/v1/tasks/batch", std::move(body));
    lat.push_back(ms_since(t));
    if (r.status == 201)
      created += k;
    else
      errors.add(r);
  }
  double dt = seconds_between(t0, steady::now());
  scenario_result out;
  out["jobs"] = n;
  out["chunk"] = chunk;
  out["task_type"] = type;
  out["tasks_run_during_enqueue"] = !held;
  out["seconds"] = round_to(dt);
  out["jobs_per_s"] = std::llround(static_cast<double>(created) / dt);
  out["chunk_latency_ms"] = latency_summary(lat);
  m.stop(out);
  out["verify_counts"] = get_type_counts(c, type).to_json();
  out["created"] = created;
  errors.report(out);
  out["data_dir_mb"] = mb(dir_bytes(o.data_dir));
  return out;
}

// ---------------------------------------------------------------------------------------
// enqueue_single: N POST /tasks, `inflight` requests in flight on as many connections.
scenario_result enqueue_single(net::io_context& ioc, const options& o, bool held) {
  const std::uint64_t n = scaled(20000, o.scale);
  const std::size_t inflight = o.conc > 0 ? static_cast<std::size_t>(o.conc) : 50;
  const std::string type = held ? "held" : "bulk";
  const std::string extra = held ? hold_an_hour : "";
  std::vector<double> lat(n);
  error_tally errors;
  std::uint64_t created = 0;
  auto conns = open_connections(ioc, o.ep, inflight); // connected before the clock starts
  meter m(o.pid);
  m.start();
  auto t0 = steady::now();
  closed_loop(
      ioc, conns, n,
      [&](std::uint64_t i) {
        return request_spec{http::verb::post, "/api/v1/tasks", task_body(type, i, extra)};
      },
      [&](std::uint64_t i, http_result&& r, double ms) {
        lat[i] = ms;
        if (r.status == 201)
          ++created;
        else
          errors.add(r);
      });
  double dt = seconds_between(t0, steady::now());
  scenario_result out;
  out["jobs"] = n;
  out["inflight"] = inflight;
  out["task_type"] = type;
  out["tasks_run_during_enqueue"] = !held;
  out["seconds"] = round_to(dt);
  out["jobs_per_s"] = std::llround(static_cast<double>(created) / dt);
  out["add_latency_ms"] = latency_summary(lat);
  m.stop(out);
  blocking_client c(ioc, o.ep);
  out["verify_counts"] = get_type_counts(c, type).to_json();
  out["created"] = created;
  errors.report(out);
  return out;
}

// ---------------------------------------------------------------------------------------
// process_cN: N tasks waiting, then drained by a noop type of concurrency N.
//
// taskd cannot pause a type, so bench.sh runs this around a restart: "fill" creates the
// tasks while the bench's "hold" config runs the type one task at a time (the few that run
// then are left out), then taskd restarts with the type at concurrency N and "drain" times
// what ran after the restart: earliest started_at to latest finished_at (list API, ms
// timestamps). The peer starts its Worker on a full queue: the same situation.
namespace {

struct drain_summary {
  std::uint64_t count = 0;
  std::int64_t first_start = INT64_MAX;
  std::int64_t last_finish = 0;
  std::vector<double> run_ms; // start transition applied -> completion applied
  double seconds() const {
    return count ? static_cast<double>(last_finish - first_start) / 1000 : 0;
  }
  long long jobs_per_s() const {
    return seconds() > 0 ? std::llround(static_cast<double>(count) / seconds()) : 0;
  }
};

drain_summary summarize_drain(const std::vector<task_times>& times, std::int64_t since_ms) {
  drain_summary d;
  for (auto& t : times) {
    if (t.started_ms < since_ms) continue;
    ++d.count;
    d.first_start = std::min(d.first_start, t.started_ms);
    d.last_finish = std::max(d.last_finish, t.finished_ms);
    d.run_ms.push_back(static_cast<double>(t.finished_ms - t.started_ms));
  }
  return d;
}

// Batches of 1,000, one in flight (the peer's addBulk loop); returns tasks created.
std::uint64_t create_batches(blocking_client& c, const std::string& type, std::uint64_t n,
                             const std::string& extra, error_tally& errors) {
  std::uint64_t created = 0;
  for (std::uint64_t i = 0; i < n; i += chunk) {
    std::uint64_t k = std::min(chunk, n - i);
    auto r = c.post("/api/v1/tasks/batch", batch_body(type, i, k, extra));
    if (r.status == 201)
      created += k;
    else
      errors.add(r);
  }
  return created;
}

void write_state(const options& o, const scenario_result& state) {
  std::ofstream f(o.state_file);
  f << boost::json::serialize(state) << "\n";
  if (!f) throw std::runtime_error("cannot write " + o.state_file);
}

scenario_result read_state(const options& o) {
  std::ifstream f(o.state_file);
  std::string line;
  if (!std::getline(f, line)) throw std::runtime_error("cannot read " + o.state_file);
  return boost::json::parse(line).as_object();
}

} // namespace

scenario_result process(net::io_context& ioc, const options& o, int concurrency) {
  const std::uint64_t n = scaled(100000, o.scale);
  const std::string type = "drain" + std::to_string(concurrency);
  blocking_client c(ioc, o.ep);
  error_tally errors;
  if (o.phase == "fill") {
    auto te = steady::now();
    std::uint64_t created = create_batches(c, type, n, "", errors);
    double enqueue_s = seconds_between(te, steady::now());
    scenario_result state;
    state["created"] = created;
    state["preenqueue_s"] = round_to(enqueue_s);
    state["preenqueue_jobs_per_s"] = std::llround(static_cast<double>(created) / enqueue_s);
    state["counts_after_fill"] = get_type_counts(c, type).to_json();
    errors.report(state);
    write_state(o, state);
    return {};
  }
  if (o.phase != "drain")
    throw std::runtime_error(o.scenario +
                             " runs as --phase fill, a restart, then --phase drain "
                             "(scripts/bench.sh does that); " +
                             o.scenario + "_delayed needs no restart");
  auto state = read_state(o);
  auto created = state.at("created").to_number<std::uint64_t>();
  meter m(o.pid);
  m.start_from_process_start();
  auto counts = wait_completed(c, type, created, 150);
  scenario_result res;
  m.stop(res);
  auto times = read_all(c, type, "completed", errors);
  auto d = summarize_drain(times, o.restart_at_ms);

  scenario_result out;
  out["variant"] = "1proc_c" + std::to_string(concurrency);
  out["jobs"] = d.count;
  out["concurrency"] = concurrency;
  out["task_type"] = type;
  out["timed_out"] = counts.of("completed") + counts.of("failed") < created;
  out["completed"] = d.count;
  out["seconds"] = round_to(d.seconds());
  out["jobs_per_s"] = d.jobs_per_s();
  out["measured"] = "tasks created while the type ran 1 at a time, then taskd restarted with "
                    "concurrency N; seconds = latest finished_at - earliest started_at of the "
                    "tasks started after the restart (list API, ms timestamps)";
  out["created"] = created;
  out["ran_before_restart"] = created - std::min<std::uint64_t>(created, d.count);
  out["restart_to_ready_s"] = o.restart_ready_s;
  out["restart_to_first_start_ms"] = d.count ? d.first_start - o.restart_at_ms : 0;
  out["start_to_finish_ms"] = latency_summary(d.run_ms);
  for (auto k : {"preenqueue_s", "preenqueue_jobs_per_s", "counts_after_fill"})
    out[k] = state.at(k);
  out["verify_counts"] = counts.to_json();
  out["fill_http_errors"] = state.at("http_errors");
  errors.report(out);
  out["timestamp_resolution_ms"] = 1;
  for (auto& [k, v] : res) out[k] = v;
  return out;
}

// process_cN_delayed: the tasks are created with one common run_at T far enough ahead that
// creation is over before T (the creation rate is calibrated with two batches first); at T
// they all become due at once. Timed like process_cN. This is what a burst of delayed
// tasks or retries does, and it costs taskd one more write per task (the promotion).
scenario_result process_delayed(net::io_context& ioc, const options& o, int concurrency) {
  const std::uint64_t n = scaled(10000, o.scale);
  const std::string type = "drain" + std::to_string(concurrency);
  blocking_client c(ioc, o.ep);
  error_tally errors;

  // Calibration into the running `bulk` type: those tasks finish long before T.
  auto tc = steady::now();
  create_batches(c, "bulk", 2 * chunk, "", errors);
  double per_task_s = seconds_between(tc, steady::now()) / (2.0 * chunk);
  double margin_s = per_task_s * static_cast<double>(n) * 1.5 + 1.0;
  taskd::millis ready_ms = taskd::now_ms() + static_cast<taskd::millis>(std::ceil(margin_s * 1000));
  const std::string extra = ",\"run_at\":\"" + taskd::format_rfc3339(ready_ms) + "\"";
  log("process: creating " + std::to_string(n) + " " + type + " tasks due in " +
      std::to_string(round_to(margin_s, 2)) + " s");

  auto te = steady::now();
  std::uint64_t created = create_batches(c, type, n, extra, errors);
  double enqueue_s = seconds_between(te, steady::now());
  bool overlap = taskd::now_ms() >= ready_ms;
  if (overlap) log("process: creation ran past the due time: the drain overlaps it");

  // Start the meter just before T so it covers the drain only.
  auto wait_ms = ready_ms - 50 - taskd::now_ms();
  if (wait_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  meter m(o.pid);
  m.start();
  auto counts = wait_completed(c, type, created, 150);
  scenario_result res;
  m.stop(res);
  auto times = read_all(c, type, "completed", errors);
  auto d = summarize_drain(times, 0);

  scenario_result out;
  out["variant"] = "1proc_c" + std::to_string(concurrency) + "_delayed";
  out["jobs"] = n;
  out["concurrency"] = concurrency;
  out["task_type"] = type;
  out["timed_out"] = counts.of("completed") + counts.of("failed") < created;
  out["completed"] = d.count;
  out["seconds"] = round_to(d.seconds());
  out["jobs_per_s"] = d.jobs_per_s();
  out["measured"] = "created with one common run_at T after creation ends; seconds = latest "
                    "finished_at - earliest started_at (list API, ms timestamps); includes "
                    "promoting each task from the schedule index";
  out["seconds_from_due"] =
      d.count ? round_to(static_cast<double>(d.last_finish - ready_ms) / 1000) : 0;
  out["due_to_first_start_ms"] = d.count ? d.first_start - ready_ms : 0;
  out["start_to_finish_ms"] = latency_summary(d.run_ms);
  out["preenqueue_s"] = round_to(enqueue_s);
  out["preenqueue_jobs_per_s"] = std::llround(static_cast<double>(created) / enqueue_s);
  out["creation_overlapped_drain"] = overlap;
  out["verify_counts"] = counts.to_json();
  errors.report(out);
  out["timestamp_resolution_ms"] = 1;
  for (auto& [k, v] : res) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------
// e2e_latency: open-loop creation at a fixed rate into a running noop type; each task's
// send time against its started_at / finished_at, read back afterwards.

scenario_result e2e_latency(net::io_context& ioc, const options& o) {
  const double rate = 1000;
  const double duration = o.duration_s > 0 ? o.duration_s : 15;
  const std::string type = "e2e";
  const int concurrency = 50; // of type e2e in the bench config
  blocking_client c(ioc, o.ep);
  // Warm-up task (first connection, first create): not measured.
  c.post("/api/v1/tasks", task_body(type, 999999999));
  wait_completed(c, type, 1, 10);

  open_loop_sender s(ioc, o.ep, type, rate, static_cast<std::uint64_t>(rate * duration));
  log("e2e_latency: " + std::to_string(s.total) + " tasks at " + std::to_string(int(rate)) + "/s");
  meter m(o.pid);
  m.start();
  std::uint64_t accepted = s.run();
  auto counts = wait_completed(c, type, accepted + 1, 30, 10);
  scenario_result res;
  m.stop(res);

  error_tally read_errors;
  auto times = read_all(c, type, "completed", read_errors);
  std::unordered_map<std::uint64_t, task_times> by_id;
  for (auto& t : times) by_id[t.id] = t;
  std::vector<double> start_lat, done_lat, start_steady, done_steady;
  std::vector<std::vector<double>> per_sec(static_cast<std::size_t>(std::ceil(duration)));
  std::uint64_t completed = 0;
  for (std::uint64_t i = 0; i < s.total; ++i) {
    auto it = by_id.find(s.ids[i]);
    if (s.ids[i] == 0 || it == by_id.end()) continue;
    ++completed;
    double sent_ms = static_cast<double>(s.send_us[i]) / 1000;
    double st = static_cast<double>(it->second.started_ms) - sent_ms;
    double fin = static_cast<double>(it->second.finished_ms) - sent_ms;
    start_lat.push_back(st);
    done_lat.push_back(fin);
    if (static_cast<double>(i) >= rate) {
      start_steady.push_back(st);
      done_steady.push_back(fin);
    }
    auto sec = static_cast<std::size_t>(static_cast<double>(i) / rate);
    if (sec < per_sec.size()) per_sec[sec].push_back(st);
  }
  boost::json::array by_second;
  for (auto& v : per_sec)
    by_second.push_back(v.empty() ? boost::json::value(nullptr)
                                  : boost::json::value(round_to(percentile(v, 0.99), 1)));

  scenario_result out;
  out["target_rate_per_s"] = rate;
  out["duration_s"] = duration;
  out["concurrency"] = concurrency;
  out["sent"] = s.total;
  out["accepted"] = accepted;
  out["completed"] = completed;
  double send_s = seconds_between(s.t0, s.send_end);
  out["achieved_send_rate_per_s"] =
      send_s > 0 ? std::llround(static_cast<double>(s.total) / send_s) : 0;
  out["connections_used"] = s.pool.size();
  out["clock_offset_ms"] = 0; // same host, same system clock
  out["timestamp_resolution_ms"] = 1;
  out["measured"] = "send = wall clock (us) just before the request is written; start = the "
                    "task's started_at (start transition applied, before its WAL sync and the "
                    "handler run); completed = finished_at (completion applied, before its "
                    "WAL sync); both are whole ms (truncated), so values read up to 1 ms low";
  out["to_processor_start_ms"] = latency_summary(start_lat);
  out["to_completed_event_ms"] = latency_summary(done_lat);
  out["to_processor_start_ms_after_1s"] = latency_summary(start_steady);
  out["to_completed_event_ms_after_1s"] = latency_summary(done_steady);
  out["start_p99_by_second_ms"] = std::move(by_second);
  out["producer_add_ack_ms"] = latency_summary(s.ack_ms);
  out["verify_counts"] = counts.to_json();
  s.errors.report(out);
  out["read_back_errors"] = read_errors.total();
  for (auto& [k, v] : res) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------
// scale: a large backlog of pending tasks (due in a day). "fill" creates it and records
// time, peak RSS and size; bench.sh then restarts taskd and times readiness; "query"
// measures listing and counting against the backlog.
namespace {

scenario_result scale_fill(net::io_context& ioc, const options& o) {
  const std::uint64_t n = scaled(1000000, o.scale);
  const std::size_t inflight = o.conc > 0 ? static_cast<std::size_t>(o.conc) : 3;
  const std::uint64_t batches = (n + chunk - 1) / chunk;
  error_tally errors;
  std::uint64_t created = 0;
  std::vector<double> lat(batches);
  auto conns = open_connections(ioc, o.ep, inflight);
  meter m(o.pid);
  m.start();
  auto t0 = steady::now();
  closed_loop(
      ioc, conns, batches,
      [&](std::uint64_t b) {
        std::uint64_t first = b * chunk;
        return request_spec{http::verb::post, "/api/v1/tasks/batch",
                            batch_body("scale", first, std::min(chunk, n - first), hold_a_day)};
      },
      [&](std::uint64_t b, http_result&& r, double ms) {
        lat[b] = ms;
        if (r.status == 201)
          created += std::min(chunk, n - b * chunk);
        else
          errors.add(r);
        if ((b + 1) % 100 == 0)
          log("scale: " + std::to_string((b + 1) * chunk) + " created, " +
              std::to_string(int(seconds_between(t0, steady::now()))) + " s");
      });
  double dt = seconds_between(t0, steady::now());
  scenario_result out;
  out["jobs"] = n;
  out["chunk"] = chunk;
  out["inflight"] = inflight;
  out["created"] = created;
  out["seconds"] = round_to(dt);
  out["jobs_per_s"] = std::llround(static_cast<double>(created) / dt);
  out["chunk_latency_ms"] = latency_summary(lat);
  m.stop(out);
  out["data_dir_mb"] = mb(dir_bytes(o.data_dir));
  blocking_client c(ioc, o.ep);
  out["verify_counts"] = get_type_counts(c, "scale").to_json();
  errors.report(out);
  return out;
}

json::value timed_gets(blocking_client& c, int count, const std::function<std::string(int)>& target,
                       error_tally& errors) {
  std::vector<double> lat;
  for (int k = 0; k < count; ++k) {
    auto t = steady::now();
    auto r = c.get(target(k));
    lat.push_back(ms_since(t));
    if (!r.ok()) errors.add(r);
  }
  return latency_summary(lat);
}

void scale_query(net::io_context& ioc, const options& o, std::uint64_t n, scenario_result& out) {
  blocking_client c(ioc, o.ep);
  error_tally errors;
  out["restart_to_ready_s"] = o.restart_ready_s >= 0 ? json::value(o.restart_ready_s) : nullptr;
  out["shutdown_s"] = o.shutdown_s >= 0 ? json::value(o.shutdown_s) : nullptr;
  auto p = read_proc(o.pid);
  out["taskd_rss_after_restart_mb"] = p.ok ? json::value(round_to(p.rss_mb, 1)) : nullptr;
  out["data_dir_mb_after_restart"] = mb(dir_bytes(o.data_dir));
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> any_id(1, n);
  // The first request after the restart reads cold data: worth its own number.
  auto t = steady::now();
  auto first = c.get("/api/v1/tasks?status=pending&limit=100&after=" + std::to_string(n / 2));
  out["first_list_after_restart_ms"] = round_to(ms_since(t));
  if (!first.ok()) errors.add(first);
  out["list_pending_ms"] = timed_gets(
      c, 200,
      [&](int) {
        return "/api/v1/tasks?status=pending&limit=100&after=" + std::to_string(any_id(rng));
      },
      errors);
  out["types_ms"] = timed_gets(
      c, 200, [](int) { return "/api/v1/types"; }, errors);
  out["get_task_ms"] = timed_gets(
      c, 200, [&](int) { return "/api/v1/tasks/" + std::to_string(any_id(rng)); }, errors);
  p = read_proc(o.pid);
  out["taskd_rss_after_queries_mb"] = p.ok ? json::value(round_to(p.rss_mb, 1)) : nullptr;
  out["verify_counts_after_restart"] = get_type_counts(c, "scale").to_json();
  boost::json::object qerr;
  errors.report(qerr);
  out["query_errors"] = std::move(qerr);
}

} // namespace

scenario_result scale(net::io_context& ioc, const options& o) {
  if (o.phase == "fill") {
    write_state(o, scale_fill(ioc, o));
    return {};
  }
  scenario_result out;
  if (o.phase == "query") {
    out = read_state(o);
  } else {
    out = scale_fill(ioc, o);
  }
  scale_query(ioc, o, out.at("jobs").to_number<std::uint64_t>(), out);
  return out;
}

// ---------------------------------------------------------------------------------------
// flow: N noop tasks flow through a taskd whose retention keeps few finished tasks
// (completed_max), created in batches as fast as taskd drains them (the backlog of pending
// tasks is kept under `backlog_cap`, so what is measured is steady state, not a growing
// queue). RSS and data size are sampled every 5% of the way: after the first fifth (caches
// and memtables warm, the change log at its retention) both should stay flat.
scenario_result flow(net::io_context& ioc, const options& o) {
  const std::uint64_t n = o.flow_tasks > 0 ? o.flow_tasks : scaled(2000000, o.scale);
  constexpr std::uint64_t backlog_cap = 100000;
  blocking_client c(ioc, o.ep);
  error_tally errors;
  meter m(o.pid);
  m.start();
  auto t0 = steady::now();
  std::uint64_t created = 0;
  std::uint64_t next_sample = 0;
  json::array samples;
  auto sample = [&](std::uint64_t at) {
    auto p = read_proc(o.pid);
    samples.push_back(json::object{{"tasks", at},
                                   {"seconds", round_to(seconds_between(t0, steady::now()))},
                                   {"rss_mb", round_to(p.rss_mb, 1)},
                                   {"disk_mb", mb(dir_bytes(o.data_dir))}});
  };
  while (created < n) {
    if (created >= next_sample) {
      sample(created);
      next_sample += std::max<std::uint64_t>(n / 20, 1);
    }
    auto counts = get_type_counts(c, "flow");
    if (counts.ok && counts.of("pending") + counts.of("in_progress") > backlog_cap) {
      // Wait for the drain, checking often: this is the bench pacing itself.
      while (counts.ok && counts.of("pending") + counts.of("in_progress") > backlog_cap / 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        counts = get_type_counts(c, "flow");
      }
    }
    std::uint64_t k = std::min<std::uint64_t>(10 * chunk, n - created);
    created += create_batches(c, "flow", k, "", errors);
    if (errors.total() > 100) break;
  }
  // Drain: everything created completes (and old completions are pruned meanwhile).
  for (auto counts = get_type_counts(c, "flow");
       counts.ok && counts.of("pending") + counts.of("in_progress") > 0;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    counts = get_type_counts(c, "flow");
  }
  double dt = seconds_between(t0, steady::now());
  sample(created);
  scenario_result out;
  out["jobs"] = n;
  out["created"] = created;
  out["seconds"] = round_to(dt);
  out["jobs_per_s"] = std::llround(static_cast<double>(created) / dt);
  // Growth after warm-up: from the sample at 20% to the last.
  const auto& warm = samples[std::min<std::size_t>(4, samples.size() - 1)].as_object();
  const auto& last = samples.back().as_object();
  out["rss_growth_after_warmup_mb"] =
      round_to(last.at("rss_mb").as_double() - warm.at("rss_mb").as_double(), 1);
  out["disk_growth_after_warmup_mb"] =
      round_to(last.at("disk_mb").as_double() - warm.at("disk_mb").as_double(), 1);
  out["samples"] = std::move(samples);
  m.stop(out);
  out["verify_counts"] = get_type_counts(c, "flow").to_json();
  errors.report(out);
  return out;
}

} // namespace bench

namespace bench {

// ---------------------------------------------------------------------------------------
// worker_process: N tasks of a `handler = "worker"` type (concurrency 100), created first
// (nothing runs them until a worker leases), then drained by remote workers over the HTTP
// worker API: 2 "processes" x 50 slots (the peer's process_2proc_c50), each slot on its
// own keep-alive connection looping lease (max 1) -> complete. Timed from the first lease
// request to the last completion acknowledged.
namespace {

struct worker_slot_loop {
  std::uint64_t target = 0;
  std::uint64_t completed = 0;
  std::uint64_t refused = 0;
  std::uint64_t empty_leases = 0;
  error_tally errors;
  std::vector<double> cycle_ms; // lease sent -> completion acknowledged
};

void lease_next(worker_slot_loop& st, const std::shared_ptr<connection>& c,
                const std::string& worker, const std::string& type) {
  if (st.completed >= st.target) return;
  auto sent = steady::now();
  c->request(http::verb::post, "/api/v1/workers/lease",
             "{\"worker\":\"" + worker + "\",\"types\":[\"" + type +
                 "\"],\"max\":1,\"wait_ms\":200,\"lease_ms\":60000}",
             [&st, c, worker, type, sent](http_result&& r) {
               if (r.status != 200) {
                 st.errors.add(r);
                 if (st.errors.total() > 1000) return; // give up: reported
                 return lease_next(st, c, worker, type);
               }
               auto body = json::parse(r.body);
               const auto& tasks = body.at("tasks").as_array();
               if (tasks.empty()) {
                 st.empty_leases++;
                 return lease_next(st, c, worker, type);
               }
               const auto& t = tasks.at(0);
               std::string target = "/api/v1/tasks/" +
                                    std::to_string(t.at("id").to_number<std::uint64_t>()) +
                                    "/complete";
               std::string token(t.at("lease").at("token").as_string());
               c->request(http::verb::post, target, "{\"token\":\"" + token + "\",\"result\":null}",
                          [&st, c, worker, type, sent](http_result&& done) {
                            if (done.status == 200) {
                              st.completed++;
                              st.cycle_ms.push_back(ms_since(sent));
                            } else if (done.status == 409) {
                              st.refused++;
                            } else {
                              st.errors.add(done);
                            }
                            lease_next(st, c, worker, type);
                          });
             });
}

} // namespace

scenario_result worker_process(net::io_context& ioc, const options& o) {
  const std::uint64_t n = scaled(100000, o.scale);
  const int procs = 2;
  const int conc = o.conc > 0 ? o.conc : 50;
  const std::string type = "remote";
  blocking_client c(ioc, o.ep);
  error_tally fill_errors;
  auto te = steady::now();
  std::uint64_t created = create_batches(c, type, n, "", fill_errors);
  double enqueue_s = seconds_between(te, steady::now());

  worker_slot_loop st;
  st.target = created;
  st.cycle_ms.reserve(created);
  auto conns = open_connections(ioc, o.ep, static_cast<std::size_t>(procs * conc));
  meter m(o.pid);
  m.start();
  auto t0 = steady::now();
  for (std::size_t i = 0; i < conns.size(); ++i)
    lease_next(st, conns[i], "bench-" + std::to_string(i / static_cast<std::size_t>(conc)), type);
  run_until(ioc, [&st] { return st.completed >= st.target || st.errors.total() > 1000; });
  double dt = seconds_between(t0, steady::now());
  scenario_result res;
  m.stop(res);
  // Let the slots' last lease requests (long polls) end before the connections go.
  run_until(ioc, [&conns] {
    return std::none_of(conns.begin(), conns.end(), [](auto& k) { return k->busy(); });
  });

  scenario_result out;
  out["variant"] = std::to_string(procs) + "proc_c" + std::to_string(conc);
  out["jobs"] = created;
  out["worker_procs"] = procs;
  out["concurrency_per_proc"] = conc;
  out["task_type"] = type;
  out["completed"] = st.completed;
  out["seconds"] = round_to(dt);
  out["jobs_per_s"] = std::llround(static_cast<double>(st.completed) / dt);
  out["measured"] = "tasks created first (a worker type runs nothing until leased), then "
                    "2 x 50 HTTP worker slots, each looping lease(max 1) -> complete on its "
                    "own keep-alive connection; seconds = first lease sent -> last completion "
                    "acknowledged (client clock)";
  out["lease_to_complete_ms"] = latency_summary(st.cycle_ms);
  out["empty_leases"] = st.empty_leases;
  out["lease_lost"] = st.refused;
  out["preenqueue_s"] = round_to(enqueue_s);
  out["preenqueue_jobs_per_s"] = std::llround(static_cast<double>(created) / enqueue_s);
  out["verify_counts"] = get_type_counts(c, type).to_json();
  out["fill_http_errors"] = fill_errors.total();
  st.errors.report(out);
  for (auto& [k, v] : res) out[k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------
// e2e_worker: e2e_latency's open loop (1,000 creates/s) into a `handler = "worker"` type,
// run by 50 remote worker slots that long-poll POST /api/v1/workers/lease (max 1) and
// complete each task. Start = the wall clock (us) when a lease answer arrives, as the
// peer's processor reads it when its job function begins; so both ends are on the
// client's clock in microseconds, and the lease's HTTP round trip is included.
namespace {

struct e2e_worker_state {
  std::vector<std::int64_t> start_us;    // by payload n; 0 until leased
  std::vector<std::int64_t> complete_us; // by payload n; 0 until its completion is acked
  std::uint64_t completed = 0;
  bool stop = false;
  error_tally errors;
};

void e2e_lease_next(e2e_worker_state& st, const std::shared_ptr<connection>& c,
                    const std::string& type) {
  if (st.stop) return;
  c->request(http::verb::post, "/api/v1/workers/lease",
             "{\"worker\":\"bench-e2e\",\"types\":[\"" + type +
                 "\"],\"max\":1,\"wait_ms\":200,\"lease_ms\":60000}",
             [&st, c, type](http_result&& r) {
               auto leased_us = wall_us();
               if (r.status != 200) {
                 st.errors.add(r);
                 if (st.errors.total() > 1000) return;
                 return e2e_lease_next(st, c, type);
               }
               auto body = json::parse(r.body);
               const auto& tasks = body.at("tasks").as_array();
               if (tasks.empty()) return e2e_lease_next(st, c, type);
               const auto& t = tasks.at(0);
               auto n = t.at("payload").at("n").to_number<std::uint64_t>();
               if (n < st.start_us.size()) st.start_us[n] = leased_us;
               std::string target = "/api/v1/tasks/" +
                                    std::to_string(t.at("id").to_number<std::uint64_t>()) +
                                    "/complete";
               std::string token(t.at("lease").at("token").as_string());
               c->request(http::verb::post, target, "{\"token\":\"" + token + "\",\"result\":null}",
                          [&st, c, type, n](http_result&& done) {
                            if (done.status == 200) {
                              if (n < st.complete_us.size()) st.complete_us[n] = wall_us();
                              st.completed++;
                            } else {
                              st.errors.add(done);
                            }
                            e2e_lease_next(st, c, type);
                          });
             });
}

} // namespace

scenario_result e2e_worker(net::io_context& ioc, const options& o) {
  const double rate = 1000;
  const double duration = o.duration_s > 0 ? o.duration_s : 15;
  const std::string type = "e2e_remote";
  const int slots = 50;
  const auto total = static_cast<std::uint64_t>(rate * duration);
  e2e_worker_state st;
  st.start_us.assign(total, 0);
  st.complete_us.assign(total, 0);
  auto workers = open_connections(ioc, o.ep, slots);
  for (auto& w : workers) e2e_lease_next(st, w, type);

  open_loop_sender s(ioc, o.ep, type, rate, total);
  log("e2e_worker: " + std::to_string(total) + " tasks at " + std::to_string(int(rate)) + "/s");
  meter m(o.pid);
  m.start();
  std::uint64_t accepted = s.run();
  auto deadline = steady::now() + std::chrono::seconds(30);
  run_until(ioc, [&] { return st.completed >= accepted || steady::now() > deadline; });
  scenario_result res;
  m.stop(res);
  st.stop = true;
  run_until(ioc, [&workers] {
    return std::none_of(workers.begin(), workers.end(), [](auto& k) { return k->busy(); });
  });

  std::vector<double> start_lat, done_lat, start_steady;
  for (std::uint64_t i = 0; i < total; ++i) {
    if (s.ids[i] == 0 || st.start_us[i] == 0) continue;
    double st_ms = static_cast<double>(st.start_us[i] - s.send_us[i]) / 1000;
    start_lat.push_back(st_ms);
    if (static_cast<double>(i) >= rate) start_steady.push_back(st_ms);
    if (st.complete_us[i] != 0)
      done_lat.push_back(static_cast<double>(st.complete_us[i] - s.send_us[i]) / 1000);
  }
  blocking_client c(ioc, o.ep);
  scenario_result out;
  out["target_rate_per_s"] = rate;
  out["duration_s"] = duration;
  out["worker_slots"] = slots;
  out["sent"] = total;
  out["accepted"] = accepted;
  out["completed"] = st.completed;
  double send_s = seconds_between(s.t0, s.send_end);
  out["achieved_send_rate_per_s"] =
      send_s > 0 ? std::llround(static_cast<double>(total) / send_s) : 0;
  out["clock_offset_ms"] = 0; // one process, one clock
  out["timestamp_resolution_ms"] = 0.001;
  out["measured"] = "send = wall clock (us) just before the create is written; start = wall "
                    "clock (us) when the remote worker's lease answer carrying the task "
                    "arrives; completed = when its completion is acknowledged";
  out["to_processor_start_ms"] = latency_summary(start_lat);
  out["to_processor_start_ms_after_1s"] = latency_summary(start_steady);
  out["to_completion_acked_ms"] = latency_summary(done_lat);
  out["producer_add_ack_ms"] = latency_summary(s.ack_ms);
  out["verify_counts"] = get_type_counts(c, type).to_json();
  s.errors.report(out);
  json::object worker_errors;
  st.errors.report(worker_errors);
  out["worker_errors"] = std::move(worker_errors);
  for (auto& [k, v] : res) out[k] = v;
  return out;
}

} // namespace bench
