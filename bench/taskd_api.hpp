#pragma once
// The parts of taskd's REST API the scenarios use, plus the load loops that drive it.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "bench/http_client.hpp"

namespace bench {

/// Non-2xx answers and transport errors of a phase, reported in the result line so a
/// benchmark that "passed" on 429s or 5xx is visible as such.
struct error_tally {
  std::map<int, std::uint64_t> by_status;
  std::uint64_t transport = 0;
  std::string first; // the first error, for the report
  void add(const http_result& r);
  std::uint64_t total() const;
  std::uint64_t server_errors() const; // 5xx
  /// Adds "http_errors", "transport_errors" and (if any) "first_error" to `out`.
  void report(boost::json::object& out) const;
};

/// {"tasks":[{"type":T,"payload":{"n":first}}, ...]} with `extra` (e.g. ,"delay_ms":5)
/// appended to every task object. Built by hand: it is on the measured path.
std::string batch_body(const std::string& type, std::uint64_t first, std::uint64_t count,
                       const std::string& extra = "");
std::string task_body(const std::string& type, std::uint64_t n, const std::string& extra = "");

/// Counts by status and "running" of one type, from GET /api/v1/types.
struct type_counts {
  bool ok = false;
  std::map<std::string, std::uint64_t> by_status;
  std::uint64_t running = 0;
  std::uint64_t of(const std::string& status) const;
  boost::json::object to_json() const;
};
type_counts get_type_counts(blocking_client& c, const std::string& type);

/// Polls counts until `completed` reaches `target` or `deadline_s` passes; returns the
/// last counts seen. The poll interval is short enough to add little to a drain time.
type_counts wait_completed(blocking_client& c, const std::string& type, std::uint64_t target,
                           double deadline_s, int poll_ms = 20);

/// What a finished task's timestamps say (milliseconds since the epoch; -1 if null).
struct task_times {
  std::uint64_t id = 0;
  std::int64_t created_ms = -1;
  std::int64_t started_ms = -1;
  std::int64_t finished_ms = -1;
};

/// Every task of `type` in `status`, paging GET /api/v1/tasks by 1,000.
std::vector<task_times> read_all(blocking_client& c, const std::string& type,
                                 const std::string& status, error_tally& errors);

/// Closed loop: `total` requests over the (open) connections `conns`, one request in
/// flight on each. `make(i)` gives request i's target and body; `on_reply(i, r, ms)`
/// sees each answer and its latency. Returns once every request is answered.
struct request_spec {
  http::verb method = http::verb::post;
  std::string target;
  std::string body;
};
void closed_loop(net::io_context& ioc, const std::vector<std::shared_ptr<connection>>& conns,
                 std::uint64_t total, const std::function<request_spec(std::uint64_t)>& make,
                 const std::function<void(std::uint64_t, http_result&&, double)>& on_reply);

/// Opens `n` connections and waits until all are connected (or failed: they reconnect).
std::vector<std::shared_ptr<connection>> open_connections(net::io_context& ioc,
                                                          const tcp::endpoint& ep, std::size_t n);

/// Polls GET /readyz until 200 or `deadline_s`; returns seconds waited, or -1.
double wait_ready(net::io_context& ioc, const tcp::endpoint& ep, double deadline_s);

} // namespace bench
