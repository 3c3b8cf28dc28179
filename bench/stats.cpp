#include "bench/stats.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

namespace bench {

double round_to(double x, int digits) {
  double f = std::pow(10.0, digits);
  return std::round(x * f) / f;
}

double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::int64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

namespace {

double nearest_rank(const std::vector<double>& sorted, double q) {
  auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::ptrdiff_t>(std::ceil(q * n)) - 1;
  rank = std::clamp<std::ptrdiff_t>(rank, 0, static_cast<std::ptrdiff_t>(sorted.size()) - 1);
  return sorted[static_cast<std::size_t>(rank)];
}

} // namespace

json::value latency_summary(std::vector<double> samples) {
  if (samples.empty()) return nullptr;
  std::sort(samples.begin(), samples.end());
  double sum = std::accumulate(samples.begin(), samples.end(), 0.0);
  return json::object{{"n", samples.size()},
                      {"p50", round_to(nearest_rank(samples, 0.5))},
                      {"p90", round_to(nearest_rank(samples, 0.9))},
                      {"p99", round_to(nearest_rank(samples, 0.99))},
                      {"p99_9", round_to(nearest_rank(samples, 0.999))},
                      {"max", round_to(samples.back())},
                      {"mean", round_to(sum / static_cast<double>(samples.size()))}};
}

double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return nearest_rank(samples, q);
}

proc_sample read_proc(int pid) {
  proc_sample s;
  if (pid <= 0) return s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool hwm = false, rss = false;
  while (std::getline(status, line)) {
    std::istringstream in(line);
    std::string key;
    double kb = 0;
    in >> key >> kb;
    if (key == "VmHWM:") s.hwm_mb = kb / 1024, hwm = true;
    if (key == "VmRSS:") s.rss_mb = kb / 1024, rss = true;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // The command name may hold spaces: fields are counted from the closing parenthesis.
  auto paren = all.rfind(')');
  if (!hwm || !rss || paren == std::string::npos) return s;
  std::istringstream f(all.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 0; i < 13 && f >> field; ++i) {
    if (i == 11) utime = std::stod(field);
    if (i == 12) stime = std::stod(field);
  }
  s.cpu_s = (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  s.ok = true;
  return s;
}

bool reset_peak_rss(int pid) {
  if (pid <= 0) return false;
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

std::uint64_t dir_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  std::uint64_t total = 0;
  std::error_code ec;
  if (dir.empty() || !fs::exists(dir, ec)) return 0;
  // Files come and go while RocksDB compacts: skip what vanished between listing and stat.
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) {
      auto n = it->file_size(fec);
      if (!fec) total += n;
    }
  }
  return total;
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double self_peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024;
}

namespace {

struct machine_cpu {
  double busy_s = 0;
  double steal_s = 0;
};

// Whole-machine busy CPU seconds (all cores) from the first line of /proc/stat.
machine_cpu read_machine_cpu() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  f >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  return {(user + nice + system + irq + softirq) / tck, steal / tck};
}

} // namespace

void meter::start() {
  if (!from_process_start_) reset_peak_rss(pid_);
  p0_ = read_proc(pid_);
  self_cpu0_ = self_cpu_s();
  auto m = read_machine_cpu();
  busy0_ = m.busy_s;
  steal0_ = m.steal_s;
  t0_ = steady::now();
}

void meter::start_from_process_start() {
  from_process_start_ = true;
  start();
  p0_.cpu_s = 0;
}

void meter::stop(json::object& out) const {
  auto p1 = read_proc(pid_);
  auto m = read_machine_cpu();
  double wall = seconds_between(t0_, steady::now());
  double bench_cpu = self_cpu_s() - self_cpu0_;
  double busy = m.busy_s - busy0_;
  out["sys_busy_cpu_s"] = round_to(busy);
  out["steal_s"] = round_to(m.steal_s - steal0_);
  out["bench_cpu_s"] = round_to(bench_cpu);
  out["bench_peak_rss_mb"] = round_to(self_peak_rss_mb(), 1);
  bool have = p0_.ok && p1.ok;
  out["taskd_cpu_s"] = have ? json::value(round_to(p1.cpu_s - p0_.cpu_s)) : nullptr;
  out["taskd_peak_rss_mb"] = p1.ok ? json::value(round_to(p1.hwm_mb, 1)) : nullptr;
  out["taskd_rss_end_mb"] = p1.ok ? json::value(round_to(p1.rss_mb, 1)) : nullptr;
  out["measured_wall_s"] = round_to(wall);
  // CPU used by anything but taskd and this benchmark during the phase: other tenants of a
  // shared machine, and kernel threads (jbd2, kworker) flushing what taskd synced.
  double other = busy - bench_cpu - (have ? p1.cpu_s - p0_.cpu_s : 0);
  if (from_process_start_) {
    // taskd's CPU covers more than the machine counters do: no honest difference.
    out["other_cpu_s"] = nullptr;
    out["other_cpu_cores"] = nullptr;
    out["taskd_counted_from"] = "process start";
    return;
  }
  out["other_cpu_s"] = round_to(other);
  out["other_cpu_cores"] = round_to(wall > 0 ? other / wall : 0, 2);
}

} // namespace bench
