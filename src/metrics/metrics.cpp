#include "src/metrics/metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "src/core/transition.hpp"

namespace taskd {

namespace prom = prometheus;

namespace {

const prom::Histogram::BucketBoundaries task_buckets = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
const prom::Histogram::BucketBoundaries commit_buckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
const prom::Histogram::BucketBoundaries http_buckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

double seconds_between(millis from, millis to) {
  return to > from ? static_cast<double>(to - from) / 1000.0 : 0.0;
}

} // namespace

struct metrics::families {
  prom::Family<prom::Counter>& created;
  prom::Family<prom::Counter>& completed;
  prom::Family<prom::Counter>& failed;
  prom::Family<prom::Counter>& attempts_failed;
  prom::Family<prom::Counter>& retried;
  prom::Family<prom::Counter>& stalled;
  prom::Family<prom::Counter>& abandoned;
  prom::Family<prom::Counter>& cancelled;
  prom::Family<prom::Counter>& rejected;
  prom::Family<prom::Histogram>& wait;
  prom::Family<prom::Histogram>& run;
  prom::Family<prom::Histogram>& commit;
  prom::Family<prom::Histogram>& http;
  prom::Family<prom::Gauge>& tasks;
  prom::Family<prom::Gauge>& running;
  prom::Family<prom::Gauge>& concurrency;
  prom::Family<prom::Gauge>& paused;
  prom::Family<prom::Gauge>& oldest;
  prom::Family<prom::Gauge>& subscribers;
  prom::Family<prom::Gauge>& head_seq;
  prom::Family<prom::Gauge>& storage;
  prom::Family<prom::Gauge>& table_files;
  prom::Family<prom::Gauge>& bridge_lag;
  prom::Family<prom::Counter>& bridge_errors;
  prom::Family<prom::Gauge>& build;
  prom::Family<prom::Counter>& cpu;
  prom::Family<prom::Gauge>& rss;
  prom::Family<prom::Gauge>& vsize;
  prom::Family<prom::Gauge>& open_fds;
  prom::Family<prom::Gauge>& max_fds;
  prom::Family<prom::Gauge>& start_time;
  double cpu_reported = 0;
  std::map<std::string, double> bridge_errors_reported;
};

struct metrics::per_type {
  prom::Counter* created;
  prom::Counter* completed;
  prom::Counter* failed;
  prom::Counter* attempts_failed;
  prom::Counter* retried;
  prom::Counter* stalled;
  prom::Counter* abandoned;
  prom::Counter* cancelled;
  prom::Counter* rejected;
  prom::Histogram* wait;
  prom::Histogram* run;
};

namespace {

template <class Builder>
auto& build(Builder b, prom::Registry& r, const char* name, const char* help) {
  return b.Name(name).Help(help).Register(r);
}

} // namespace

namespace {
std::atomic<std::uint64_t> next_instance{1};
} // namespace

metrics::metrics(const config& cfg, std::string version, millis started_at)
    : cfg_(cfg), registry_(std::make_shared<prom::Registry>()), instance_(next_instance++),
      started_at_(started_at) {
  auto& r = *registry_;
  auto counter = [&](const char* n, const char* h) -> auto& {
    return build(prom::BuildCounter(), r, n, h);
  };
  auto gauge = [&](const char* n, const char* h) -> auto& {
    return build(prom::BuildGauge(), r, n, h);
  };
  auto histogram = [&](const char* n, const char* h) -> auto& {
    return build(prom::BuildHistogram(), r, n, h);
  };
  f_.reset(new families{
      counter("taskd_tasks_created_total", "Tasks created."),
      counter("taskd_tasks_completed_total", "Tasks completed."),
      counter("taskd_tasks_failed_total", "Tasks that ended failed (no attempts left)."),
      counter("taskd_attempts_failed_total", "Attempts that failed (retried or not)."),
      counter("taskd_tasks_retried_total",
              "Tasks back to pending: after a failed or stalled attempt, or by request."),
      counter("taskd_tasks_stalled_total", "Attempts whose runner was lost (taskd died)."),
      counter("taskd_tasks_abandoned_total", "Tasks that stalled on their last attempt."),
      counter("taskd_tasks_cancelled_total", "Tasks cancelled by request."),
      counter("taskd_admission_rejected_total", "Tasks refused by backpressure (HTTP 429)."),
      histogram("taskd_task_wait_seconds", "From due (run_at) to started."),
      histogram("taskd_task_run_seconds", "Attempt duration, started to outcome."),
      histogram("taskd_store_commit_seconds", "One durable group commit (synced WAL write)."),
      histogram("taskd_http_request_duration_seconds", "HTTP requests, by route and code."),
      gauge("taskd_tasks", "Tasks by type and status."),
      gauge("taskd_tasks_running", "Tasks running now, by type."),
      gauge("taskd_type_concurrency", "Configured concurrency limit of a type."),
      gauge("taskd_type_paused", "1 if the type is paused."),
      gauge("taskd_oldest_pending_age_seconds", "Age of the oldest pending task (0: none)."),
      gauge("taskd_event_subscribers", "Open event-stream connections."),
      gauge("taskd_change_log_head_sequence", "Sequence number of the newest change."),
      gauge("taskd_storage_size_bytes", "Size of the RocksDB data directory."),
      gauge("taskd_storage_table_files", "RocksDB table files held open, by column family."),
      gauge("taskd_bridge_lag_events", "Changes a mirror has not applied yet, by sink."),
      counter("taskd_bridge_errors_total", "Failed mirror writes (each retried), by sink."),
      gauge("taskd_build_info", "taskd's version."),
      counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds."),
      gauge("process_resident_memory_bytes", "Resident memory size in bytes."),
      gauge("process_virtual_memory_bytes", "Virtual memory size in bytes."),
      gauge("process_open_fds", "Open file descriptors."),
      gauge("process_max_fds", "Maximum number of open file descriptors."),
      gauge("process_start_time_seconds", "Start time of the process since the Unix epoch."),
      0.0,
      {},
  });
  commit_seconds_ = &f_->commit.Add({}, commit_buckets);
  f_->build.Add({{"version", std::move(version)}}).Set(1);
  for (const auto& [name, tc] : cfg_.types) add_type(configured_, name);
}

metrics::~metrics() = default;

metrics::per_type& metrics::add_type(type_map& into, const std::string& type) {
  prom::Labels l{{"type", type}};
  auto p = std::make_unique<per_type>(per_type{
      &f_->created.Add(l), &f_->completed.Add(l), &f_->failed.Add(l), &f_->attempts_failed.Add(l),
      &f_->retried.Add(l), &f_->stalled.Add(l), &f_->abandoned.Add(l), &f_->cancelled.Add(l),
      &f_->rejected.Add(l), &f_->wait.Add(l, task_buckets), &f_->run.Add(l, task_buckets)});
  return *into.emplace(type, std::move(p)).first->second;
}

metrics::per_type& metrics::of(const std::string& type) {
  if (auto it = configured_.find(type); it != configured_.end()) return *it->second;
  std::lock_guard lock(mu_);
  if (auto it = extra_.find(type); it != extra_.end()) return *it->second;
  return add_type(extra_, type);
}

void metrics::observe_commit(const std::vector<observed_change>& changes, double write_seconds) {
  commit_seconds_->Observe(write_seconds);
  for (const auto& ch : changes) {
    const task& t = *ch.after;
    auto kind = ch.kind();
    if (kind == transition::none || kind == transition::deleted) continue;
    auto& m = of(t.type);
    auto attempt_seconds = [&] {
      return t.started_at ? seconds_between(*t.started_at, t.updated_at) : 0.0;
    };
    switch (kind) {
    case transition::created: m.created->Increment(); break;
    case transition::started:
      if (t.started_at) m.wait->Observe(seconds_between(t.run_at, *t.started_at));
      break;
    case transition::completed:
      m.completed->Increment();
      m.run->Observe(attempt_seconds());
      break;
    case transition::failed:
      m.failed->Increment();
      m.attempts_failed->Increment();
      m.run->Observe(attempt_seconds());
      break;
    case transition::retry_scheduled:
      m.attempts_failed->Increment();
      m.retried->Increment();
      m.run->Observe(attempt_seconds());
      break;
    case transition::stall_retried:
      m.stalled->Increment();
      m.retried->Increment();
      break;
    case transition::abandoned:
      m.stalled->Increment();
      m.abandoned->Increment();
      break;
    case transition::retried: m.retried->Increment(); break;
    case transition::cancelled: m.cancelled->Increment(); break;
    default: break;
    }
  }
}

void metrics::admission_rejected(const std::string& type, std::uint64_t tasks) {
  of(type).rejected->Increment(static_cast<double>(tasks));
}

/// Series are never removed, so each I/O thread keeps the ones it used: after the first
/// request of a kind, timing one takes no lock and no label hashing.
prom::Histogram& metrics::http_series(std::string_view method, std::string_view route, int code) {
  struct cache {
    std::uint64_t instance = 0;
    std::unordered_map<std::string, prom::Histogram*> series;
  };
  thread_local cache local;
  if (local.instance != instance_) local = cache{instance_, {}};
  std::string key(method);
  key += ' ';
  key += route;
  key += ' ';
  key += std::to_string(code);
  auto& slot = local.series[key];
  if (!slot) {
    std::lock_guard lock(mu_);
    slot = &f_->http.Add({{"method", std::string(method)},
                          {"route", std::string(route)},
                          {"code", std::to_string(code)}},
                         http_buckets);
  }
  return *slot;
}

void metrics::http_request(std::string_view method, std::string_view route, int code,
                           double seconds) {
  http_series(method, route, code).Observe(seconds);
}

void metrics::sample_process() {
  // /proc/self/stat: fields 14/15 are utime/stime in ticks, 23 vsize, 24 rss in pages.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(line.substr(close + 2));
    std::vector<std::string> f;
    for (std::string x; in >> x;) f.push_back(x);
    // After the ")": field 3 is f[0], so field N is f[N - 3].
    if (f.size() > 21) {
      double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      auto& c = f_->cpu.Add({});
      if (cpu > f_->cpu_reported) c.Increment(cpu - f_->cpu_reported);
      f_->cpu_reported = std::max(cpu, f_->cpu_reported);
      f_->vsize.Add({}).Set(std::stod(f[20]));
      f_->rss.Add({}).Set(std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    }
  }
  std::size_t fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) ++fds;
    closedir(d);
    fds = fds >= 3 ? fds - 3 : 0; // ".", ".." and the directory's own descriptor
  }
  f_->open_fds.Add({}).Set(static_cast<double>(fds));
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    f_->max_fds.Add({}).Set(static_cast<double>(lim.rlim_cur));
  f_->start_time.Add({}).Set(static_cast<double>(started_at_) / 1000.0);
}

std::string metrics::scrape(const gauge_sample& s) {
  std::set<std::string, std::less<>> types;
  for (const auto& [name, tc] : cfg_.types) types.insert(name);
  for (const auto& [name, c] : s.counts) types.insert(name);
  {
    std::lock_guard lock(mu_);
    for (const auto& type : types) {
      auto it = s.counts.find(type);
      for (int st = 0; st < task_status_count; ++st)
        f_->tasks.Add({{"type", type}, {"status", to_string(static_cast<task_status>(st))}})
            .Set(it == s.counts.end() ? 0.0 : static_cast<double>(it->second[st]));
      auto run = s.running.find(type);
      f_->running.Add({{"type", type}})
          .Set(run == s.running.end() ? 0.0 : static_cast<double>(run->second));
      auto age = s.oldest_pending_age_s.find(type);
      f_->oldest.Add({{"type", type}}).Set(age == s.oldest_pending_age_s.end() ? 0.0 : age->second);
      f_->paused.Add({{"type", type}}).Set(s.paused.count(type) ? 1.0 : 0.0);
      if (const type_config* tc = find_type(cfg_, type))
        f_->concurrency.Add({{"type", type}}).Set(tc->concurrency);
    }
    f_->subscribers.Add({}).Set(static_cast<double>(s.subscribers));
    f_->head_seq.Add({}).Set(static_cast<double>(s.head_seq));
    f_->storage.Add({}).Set(static_cast<double>(s.storage_bytes));
    for (const auto& [cf, files] : s.table_files)
      f_->table_files.Add({{"column_family", cf}}).Set(static_cast<double>(files));
    for (const auto& m : s.mirrors) {
      f_->bridge_lag.Add({{"sink", m.sink}}).Set(static_cast<double>(m.lag_events));
      double& reported = f_->bridge_errors_reported[m.sink];
      auto errors = static_cast<double>(m.errors);
      f_->bridge_errors.Add({{"sink", m.sink}}).Increment(std::max(0.0, errors - reported));
      reported = std::max(reported, errors);
    }
    sample_process();
  }
  for (const auto& type : types) of(type); // counters exist (at 0) for every type
  return prom::TextSerializer().Serialize(registry_->Collect());
}

std::string route_label(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::size_t i = 0; i < path.size();) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  auto is_id = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  auto one_of = [](std::string_view s, std::initializer_list<std::string_view> set) {
    for (auto x : set)
      if (s == x) return true;
    return false;
  };
  if (parts.empty() || (parts.size() <= 2 && one_of(parts[0], {"admin", "assets"}))) return "/ui";
  if (parts.size() == 1 && one_of(parts[0], {"healthz", "readyz", "metrics"}))
    return "/" + std::string(parts[0]);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") return "other";
  std::string base = "/api/v1/" + std::string(parts[2]);
  if (parts[2] == "tasks") {
    if (parts.size() == 3) return base;
    if (parts.size() == 4 && one_of(parts[3], {"batch", "clean"}))
      return base + "/" + std::string(parts[3]);
    if (!is_id(parts[3])) return "other";
    if (parts.size() == 4) return base + "/{id}";
    if (parts.size() == 5 &&
        one_of(parts[4], {"retry", "cancel", "promote", "events", "attempts", "logs"}))
      return base + "/{id}/" + std::string(parts[4]);
    return "other";
  }
  if (parts[2] == "types") {
    if (parts.size() == 3) return base;
    if (parts.size() == 4) return base + "/{type}";
    if (parts.size() == 5 &&
        one_of(parts[4], {"pause", "resume", "retry-failed", "cancel-pending"}))
      return base + "/{type}/" + std::string(parts[4]);
    return "other";
  }
  if (parts.size() == 3 && parts[2] == "events") return base;
  if (parts.size() == 4 && parts[2] == "admin" && one_of(parts[3], {"info", "log-level"}))
    return base + "/" + std::string(parts[3]);
  return "other";
}

} // namespace taskd
