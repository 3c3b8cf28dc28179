#pragma once
// Measurement helpers: latency percentiles in the peer benchmark's shape, resource use of
// the taskd process and of the benchmark itself (from /proc and getrusage), data size.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace bench {

namespace json = boost::json;
using steady = std::chrono::steady_clock;

/// Rounds to `digits` decimals, as the peer does (so both print the same precision).
double round_to(double x, int digits = 3);

/// Seconds between two steady-clock points.
double seconds_between(steady::time_point a, steady::time_point b);

/// Wall-clock microseconds since the Unix epoch (comparable with taskd's timestamps).
std::int64_t wall_us();

/// {"n", "p50", "p90", "p99", "p99_9", "max", "mean"} like the peer's pct(); null if empty.
/// Percentile = the ceil(q * n)-th smallest sample (nearest rank).
json::value latency_summary(std::vector<double> samples);
/// One nearest-rank percentile of the samples (per-second series).
double percentile(std::vector<double> samples, double q);

struct proc_sample {
  bool ok = false;
  double cpu_s = 0;  // utime + stime
  double hwm_mb = 0; // VmHWM: peak resident set since start or the last clear_refs
  double rss_mb = 0; // VmRSS now
};

/// Reads /proc/PID/status and /proc/PID/stat; ok = false when the process is gone.
proc_sample read_proc(int pid);
/// Resets VmHWM to the current RSS (echo 5 > /proc/PID/clear_refs).
bool reset_peak_rss(int pid);

/// Bytes of all files under `dir` (what `du --apparent-size` counts), 0 if absent.
std::uint64_t dir_bytes(const std::string& dir);

/// Resource use over a measured phase: taskd (by pid, if given), this process, and the
/// whole machine, so foreign load on a shared box shows up as other_cpu_cores.
class meter {
public:
  explicit meter(int taskd_pid) : pid_(taskd_pid) {}
  /// Resets taskd's peak RSS and takes the starting counters.
  void start();
  /// For a taskd that was started just before the phase: counts its CPU and peak RSS
  /// from its start (what it did before this call is part of the phase).
  void start_from_process_start();
  /// Appends the peer's resource fields (with taskd_ in place of redis_, bench_ for node_).
  void stop(json::object& out) const;

private:
  int pid_;
  steady::time_point t0_{};
  proc_sample p0_{};
  double self_cpu0_ = 0;
  double busy0_ = 0;
  double steal0_ = 0;
  bool from_process_start_ = false;
};

/// CPU seconds (user + system) of this process so far.
double self_cpu_s();
/// Peak RSS of this process in MB.
double self_peak_rss_mb();

} // namespace bench
