// soak: creates at a fixed rate (open loop) into a running noop type for a long time,
// sampling taskd's RSS, open file descriptors and the create latency every window. The
// verdict compares the last third of the run with the first (after a warm-up window):
// a leak shows as growth there.

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "bench/open_loop.hpp"
#include "bench/scenarios.hpp"

namespace bench {

namespace {

std::size_t open_fds(int pid) {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
       !ec && it != end; it.increment(ec))
    ++n;
  return n;
}

struct window {
  double at_s = 0;
  double rss_mb = 0;
  std::size_t fds = 0;
  double p99_ms = 0;
  std::uint64_t acked = 0;
};

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
    w.fds = o.pid ? open_fds(o.pid) : 0;
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
                      {"open_fds", w.fds},
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
    double fds0 = 0, fds1 = 0;
    for (std::size_t i = 1; i < 1 + third; ++i) fds0 = std::max<double>(fds0, windows[i].fds);
    for (std::size_t i = n - third; i < n; ++i) fds1 = std::max<double>(fds1, windows[i].fds);
    bool flat = rss1 <= rss0 * 1.25 + 20 && fds1 <= fds0 + 16 && p1 <= std::max(p0 * 3, p0 + 5);
    out["rss_mb_first_third"] = round_to(rss0, 1);
    out["rss_mb_last_third"] = round_to(rss1, 1);
    out["open_fds_first_third"] = fds0;
    out["open_fds_last_third"] = fds1;
    out["create_p99_ms_first_third"] = round_to(p0, 2);
    out["create_p99_ms_last_third"] = round_to(p1, 2);
    out["flat"] = flat && s.errors.total() == 0;
  } else {
    out["flat"] = nullptr; // too short to tell
  }
  return out;
}

} // namespace bench
