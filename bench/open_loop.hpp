#pragma once
// An open-loop sender: creates tasks at a fixed rate whatever the answers' latency (a slow
// answer never holds back the next send, which would hide latency: coordinated omission).

#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include "bench/http_client.hpp"
#include "bench/stats.hpp"
#include "bench/taskd_api.hpp"

namespace bench {

inline double ms_since(steady::time_point t) {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

struct open_loop_sender {
  open_loop_sender(net::io_context& io, tcp::endpoint e, std::string t, double r, std::uint64_t n)
      : ioc(io), ep(e), type(std::move(t)), rate(r), total(n) {}

  net::io_context& ioc;
  tcp::endpoint ep;
  std::string type;
  double rate;
  std::uint64_t total;
  std::vector<std::shared_ptr<connection>> pool;
  net::steady_timer timer{ioc};
  steady::time_point t0{};
  steady::time_point send_end{};
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::size_t next_conn = 0;
  std::vector<std::int64_t> send_us;
  std::vector<std::uint64_t> ids;
  std::vector<double> ack_ms;
  error_tally errors;

  steady::duration due_at(std::uint64_t i) const {
    return std::chrono::duration_cast<steady::duration>(
        std::chrono::duration<double>(static_cast<double>(i) / rate));
  }

  // An idle connection; a new one if all are waiting, so a slow answer never holds
  // back the next send (that would hide latency: coordinated omission).
  std::shared_ptr<connection> idle() {
    for (std::size_t k = 0; k < pool.size(); ++k) {
      auto& cn = pool[(next_conn + k) % pool.size()];
      if (!cn->busy()) {
        next_conn = (next_conn + k + 1) % pool.size();
        return cn;
      }
    }
    pool.push_back(std::make_shared<connection>(ioc, ep));
    return pool.back();
  }

  void send(std::uint64_t i) {
    auto cn = idle();
    auto tl = steady::now();
    send_us[i] = wall_us();
    cn->request(http::verb::post, "/api/v1/tasks", task_body(type, i),
                [this, i, tl](http_result&& r) {
                  ack_ms.push_back(ms_since(tl));
                  if (r.status == 201) {
                    boost::system::error_code ec;
                    auto v = boost::json::parse(r.body, ec);
                    if (!ec) ids[i] = v.at("id").to_number<std::uint64_t>();
                  } else {
                    errors.add(r);
                  }
                  ++acked;
                });
  }

  void tick() {
    auto elapsed = std::chrono::duration<double>(steady::now() - t0).count();
    auto due =
        std::min<std::uint64_t>(total, static_cast<std::uint64_t>(std::floor(elapsed * rate)) + 1);
    while (sent < due) send(sent++);
    if (sent >= total) {
      send_end = steady::now();
      return;
    }
    timer.expires_at(t0 + due_at(sent));
    timer.async_wait([this](beast::error_code) { tick(); });
  }

  void start() {
    send_us.assign(total, 0);
    ids.assign(total, 0);
    ack_ms.reserve(total);
    t0 = steady::now();
    tick();
  }

  /// Opens 32 connections, sends everything on schedule and waits for every answer;
  /// returns how many creates were accepted.
  std::uint64_t run() {
    pool = open_connections(ioc, ep, 32);
    start();
    run_until(ioc, [this] { return acked >= total; });
    std::uint64_t accepted = 0;
    for (auto id : ids) accepted += id != 0;
    return accepted;
  }
};

} // namespace bench
