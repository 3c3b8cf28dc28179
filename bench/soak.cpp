// soak: creates at a fixed rate (open loop) into a running noop type for a long time,
// sampling taskd's RSS, open sockets and other files, data size and the create latency
// every window. The verdict compares the last third of the run with the first (after a
// warm-up window): a leak shows as growth there.

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "bench/open_loop.hpp"
#include "bench/scenarios.hpp"

namespace bench {

namespace {

/// taskd's open file descriptors: sockets (a leak would grow with requests) and the
/// rest (mostly RocksDB's table files, whose number moves with compaction).
struct fd_count {
  std::size_t sockets = 0;
  std::size_t files = 0;
};

fd_count open_fds(int pid) {
  std::error_code ec;
  fd_count n;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code lec;
    auto target = std::filesystem::read_symlink(it->path(), lec).string();
    (target.rfind("socket:", 0) == 0 ? n.sockets : n.files) += 1;
  }
  return n;
}

struct window {
  double at_s = 0;
  double rss_mb = 0;
  double sockets = 0; // beyond the benchmark's own connections (those taskd must hold)
  double client_connections = 0;
  double files = 0;
  double data_mb = 0;
  double p99_ms = 0;
  std::uint64_t acked = 0;
};

double max_of(const std::vector<window>& w, std::size_t from, std::size_t to,
              double window::*field) {
  double m = 0;
  for (std::size_t i = from; i < to; ++i) m = std::max(m, w[i].*field);
  return m;
}

double mean_of(const std::vector<window>& w, std::size_t from, std::size_t to,
               double window::*field) {
  double sum = 0;
  for (std::size_t i = from; i < to; ++i) sum += w[i].*field;
  return to > from ? sum / static_cast<double>(to - from) : 0;
}

} // namespace

scenario_result soak(net::io_context& ioc, const options& o) {
  const double rate = o.rate > 0 ? o.rate : 3000;
  const double duration = o.duration_s > 0 ? o.duration_s : 600;
  const double every_s = std::clamp(duration / 30, 1.0, 10.0);
  open_loop_sender s(ioc, o.ep, "e2e", rate, static_cast<std::uint64_t>(rate * duration));
  s.pool = open_connections(ioc, o.ep, 32);
  std::cerr << "[taskd-bench] soak: " << s.total << " creates at " << rate << "/s, a sample every "
            << every_s << " s" << std::endl;

  std::vector<window> windows;
  std::size_t seen_acks = 0;
  net::steady_timer sampler(ioc);
  std::function<void()> sample = [&] {
    std::vector<double> lat(s.ack_ms.begin() + static_cast<std::ptrdiff_t>(seen_acks),
                            s.ack_ms.end());
    seen_acks = s.ack_ms.size();
    auto p = read_proc(o.pid);
    window w;
    w.at_s = round_to(seconds_between(s.t0, steady::now()), 1);
    w.rss_mb = round_to(p.rss_mb, 1);
    auto fds = o.pid ? open_fds(o.pid) : fd_count{};
    // The sender opens a connection whenever all are busy (open loop), so taskd's sockets
    // follow the client's pool; a server-side leak is what exceeds it (plus listeners).
    w.client_connections = static_cast<double>(s.pool.size());
    w.sockets = std::max(0.0, static_cast<double>(fds.sockets) - w.client_connections);
    w.files = static_cast<double>(fds.files);
    w.data_mb =
        o.data_dir.empty() ? 0 : round_to(static_cast<double>(dir_bytes(o.data_dir)) / 1048576, 1);
    w.p99_ms = lat.empty() ? 0 : round_to(percentile(lat, 0.99), 2);
    w.acked = lat.size();
    windows.push_back(w);
    if (s.acked < s.total) {
      sampler.expires_after(
          std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(every_s)));
      sampler.async_wait([&](boost::system::error_code) { sample(); });
    }
  };
  s.start();
  sampler.expires_after(
      std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(every_s)));
  sampler.async_wait([&](boost::system::error_code) { sample(); });
  run_until(ioc, [&] { return s.acked >= s.total; });
  sampler.cancel();
  sample(); // the tail

  scenario_result out;
  out["target_rate_per_s"] = rate;
  out["duration_s"] = duration;
  out["sent"] = s.total;
  s.errors.report(out);
  boost::json::array series;
  for (const auto& w : windows)
    series.push_back({{"at_s", w.at_s},
                      {"rss_mb", w.rss_mb},
                      {"open_sockets_beyond_client", w.sockets},
                      {"client_connections", w.client_connections},
                      {"open_files", w.files},
                      {"data_mb", w.data_mb},
                      {"create_p99_ms", w.p99_ms},
                      {"creates", w.acked}});
  out["windows"] = std::move(series);
  // First window: warm-up. Then the first third against the last third.
  const std::size_t n = windows.size();
  if (n >= 4) {
    const std::size_t third = std::max<std::size_t>(1, (n - 1) / 3);
    const double rss0 = mean_of(windows, 1, 1 + third, &window::rss_mb);
    const double rss1 = mean_of(windows, n - third, n, &window::rss_mb);
    const double p0 = mean_of(windows, 1, 1 + third, &window::p99_ms);
    const double p1 = mean_of(windows, n - third, n, &window::p99_ms);
    const double sock0 = max_of(windows, 1, 1 + third, &window::sockets);
    const double sock1 = max_of(windows, n - third, n, &window::sockets);
    const double files0 = max_of(windows, 1, 1 + third, &window::files);
    const double files1 = max_of(windows, n - third, n, &window::files);
    const double disk0 = mean_of(windows, 1, 1 + third, &window::data_mb);
    const double disk1 = mean_of(windows, n - third, n, &window::data_mb);
    // Sockets must not grow at all (beyond the client's connections coming and going);
    // table files and disk move with compaction, so they get a relative bound.
    bool flat = rss1 <= rss0 * 1.25 + 20 && sock1 <= sock0 + 16 && files1 <= files0 * 1.25 + 16 &&
                disk1 <= disk0 * 1.25 + 20 && p1 <= std::max(p0 * 3, p0 + 5);
    out["rss_mb_first_third"] = round_to(rss0, 1);
    out["rss_mb_last_third"] = round_to(rss1, 1);
    out["open_sockets_beyond_client_first_third"] = sock0;
    out["open_sockets_beyond_client_last_third"] = sock1;
    out["open_files_first_third"] = files0;
    out["open_files_last_third"] = files1;
    out["data_mb_first_third"] = round_to(disk0, 1);
    out["data_mb_last_third"] = round_to(disk1, 1);
    out["create_p99_ms_first_third"] = round_to(p0, 2);
    out["create_p99_ms_last_third"] = round_to(p1, 2);
    out["flat"] = flat && s.errors.total() == 0;
  } else {
    out["flat"] = nullptr; // too short to tell
  }
  return out;
}

} // namespace bench
