#pragma once
// taskd's Prometheus metrics (prometheus-cpp registry, text exposition served by our own
// HTTP server). Transition counters and wait/run histograms are fed from the store's
// committed changes, so every change is counted once whoever made it (the scheduler,
// recovery, an admin action, retention). Gauges are sampled at scrape time from exact
// sources (the store's counters, the scheduler's running counts), never from scans.
//
// Label values are bounded: types come from the config (a type that only exists on disk
// still gets its series), routes are templates, codes are HTTP statuses.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/config/config.hpp"
#include "src/core/task.hpp"
#include "src/core/transition.hpp"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <class T> class Family;
class Gauge;
} // namespace prometheus

namespace taskd {

/// A mirror's progress (see [bridge]): changes behind the head, failed attempts so far.
struct mirror_sample {
  std::string sink;
  std::uint64_t lag_events = 0;
  std::uint64_t errors = 0;
};

/// Point-in-time values for the gauges, gathered by the caller at scrape time.
struct gauge_sample {
  std::vector<mirror_sample> mirrors;
  std::map<std::string, std::array<std::uint64_t, task_status_count>, std::less<>> counts;
  std::map<std::string, std::uint64_t> running;
  std::map<std::string, double> oldest_pending_age_s;
  std::set<std::string, std::less<>> paused;
  std::size_t subscribers = 0;
  std::uint64_t head_seq = 0;
  std::uint64_t storage_bytes = 0;
  std::map<std::string, std::uint64_t> table_files; // by column family
};

class metrics {
public:
  metrics(const config& cfg, std::string version, millis started_at);
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  /// Writer thread: a durable group's changes and how long its synced write took.
  void observe_commit(const std::vector<observed_change>& changes, double write_seconds);
  void admission_rejected(const std::string& type, std::uint64_t tasks);
  void http_request(std::string_view method, std::string_view route, int code, double seconds);

  /// The text exposition format, gauges set from `sample` first.
  std::string scrape(const gauge_sample& sample);

private:
  struct per_type;
  per_type& of(const std::string& type);
  prometheus::Histogram& http_series(std::string_view method, std::string_view route, int code);
  void sample_process();

  const config& cfg_;
  std::shared_ptr<prometheus::Registry> registry_;
  using type_map = std::unordered_map<std::string, std::unique_ptr<per_type>>;
  per_type& add_type(type_map& into, const std::string& type);
  // The configured types' series, built once: hot paths find them without a lock.
  type_map configured_;
  std::mutex mu_; // guards extra_ (types only on disk) and the gauge and HTTP families
  type_map extra_;
  const std::uint64_t instance_; // tells thread-local caches of HTTP series apart
  struct families;
  std::unique_ptr<families> f_;
  prometheus::Histogram* commit_seconds_ = nullptr;
  millis started_at_;
};

/// "/api/v1/tasks/{id}": the route template of a request path, for a bounded label.
std::string route_label(std::string_view path);

} // namespace taskd
