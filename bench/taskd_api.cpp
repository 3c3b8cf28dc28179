#include "bench/taskd_api.hpp"

#include <thread>

#include <boost/json.hpp>

#include "bench/stats.hpp"
#include "src/core/clock.hpp"

namespace bench {

void error_tally::add(const http_result& r) {
  if (r.ec) {
    ++transport;
    if (first.empty()) first = "transport: " + r.ec.message();
    return;
  }
  ++by_status[r.status];
  if (first.empty()) first = std::to_string(r.status) + ": " + r.body.substr(0, 300);
}

std::uint64_t error_tally::total() const {
  std::uint64_t n = transport;
  for (auto& [st, count] : by_status) n += count;
  return n;
}

std::uint64_t error_tally::server_errors() const {
  std::uint64_t n = 0;
  for (auto& [st, count] : by_status)
    if (st >= 500) n += count;
  return n;
}

void error_tally::report(boost::json::object& out) const {
  boost::json::object statuses;
  for (auto& [st, count] : by_status) statuses[std::to_string(st)] = count;
  out["http_errors"] = std::move(statuses);
  out["transport_errors"] = transport;
  if (!first.empty()) out["first_error"] = first;
}

std::string task_body(const std::string& type, std::uint64_t n, const std::string& extra) {
  std::string s = "{\"type\":\"";
  s += type;
  s += "\",\"payload\":{\"n\":";
  s += std::to_string(n);
  s += '}';
  s += extra;
  s += '}';
  return s;
}

std::string batch_body(const std::string& type, std::uint64_t first, std::uint64_t count,
                       const std::string& extra) {
  std::string s = "{\"tasks\":[";
  s.reserve(count * (type.size() + extra.size() + 40) + 16);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (i) s += ',';
    s += task_body(type, first + i, extra);
  }
  s += "]}";
  return s;
}

std::uint64_t type_counts::of(const std::string& status) const {
  auto it = by_status.find(status);
  return it == by_status.end() ? 0 : it->second;
}

boost::json::object type_counts::to_json() const {
  boost::json::object o;
  for (auto& [st, n] : by_status) o[st] = n;
  o["running"] = running;
  return o;
}

type_counts get_type_counts(blocking_client& c, const std::string& type) {
  type_counts tc;
  auto r = c.get("/api/v1/types");
  if (!r.ok()) return tc;
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return tc;
  auto* types = v.as_object().if_contains("types");
  if (!types || !types->is_array()) return tc;
  for (auto& t : types->as_array()) {
    auto& o = t.as_object();
    if (o.at("name").as_string() != type) continue;
    for (auto& [st, n] : o.at("counts").as_object())
      tc.by_status[std::string(st)] = n.to_number<std::uint64_t>();
    tc.running = o.at("running").to_number<std::uint64_t>();
    tc.ok = true;
  }
  return tc;
}

type_counts wait_completed(blocking_client& c, const std::string& type, std::uint64_t target,
                           double deadline_s, int poll_ms) {
  auto t0 = steady::now();
  for (;;) {
    auto tc = get_type_counts(c, type);
    if (tc.ok && tc.of("completed") + tc.of("failed") >= target) return tc;
    if (seconds_between(t0, steady::now()) > deadline_s) return tc;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

namespace {

std::int64_t time_field(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return -1;
  auto ms = taskd::parse_rfc3339(v->as_string());
  return ms ? *ms : -1;
}

} // namespace

std::vector<task_times> read_all(blocking_client& c, const std::string& type,
                                 const std::string& status, error_tally& errors) {
  std::vector<task_times> out;
  std::uint64_t after = 0;
  for (;;) {
    auto r = c.get("/api/v1/tasks?type=" + type + "&status=" + status +
                   "&limit=1000&after=" + std::to_string(after));
    if (!r.ok()) {
      errors.add(r);
      return out;
    }
    auto v = boost::json::parse(r.body);
    for (auto& t : v.at("tasks").as_array()) {
      auto& o = t.as_object();
      out.push_back({o.at("id").to_number<std::uint64_t>(), time_field(o, "created_at"),
                     time_field(o, "started_at"), time_field(o, "finished_at")});
    }
    auto& next = v.at("next_after");
    if (next.is_null()) return out;
    after = next.to_number<std::uint64_t>();
  }
}

namespace {

// One closed-loop run: each connection takes the next index when its answer is in.
struct loop_state {
  net::io_context& ioc;
  std::uint64_t total;
  const std::function<request_spec(std::uint64_t)>& make;
  const std::function<void(std::uint64_t, http_result&&, double)>& on_reply;
  std::uint64_t next = 0;
  std::uint64_t answered = 0;
};

void issue(loop_state& st, const std::shared_ptr<connection>& conn) {
  if (st.next >= st.total) return;
  std::uint64_t i = st.next++;
  auto spec = st.make(i);
  auto t = steady::now();
  conn->request(spec.method, spec.target, std::move(spec.body), [&st, conn, i, t](http_result&& r) {
    double ms = std::chrono::duration<double, std::milli>(steady::now() - t).count();
    st.on_reply(i, std::move(r), ms);
    ++st.answered;
    issue(st, conn);
  });
}

} // namespace

void closed_loop(net::io_context& ioc, const std::vector<std::shared_ptr<connection>>& conns,
                 std::uint64_t total, const std::function<request_spec(std::uint64_t)>& make,
                 const std::function<void(std::uint64_t, http_result&&, double)>& on_reply) {
  loop_state st{ioc, total, make, on_reply};
  for (auto& c : conns) issue(st, c);
  run_until(ioc, [&st] { return st.answered >= st.total; });
}

std::vector<std::shared_ptr<connection>> open_connections(net::io_context& ioc,
                                                          const tcp::endpoint& ep, std::size_t n) {
  std::vector<std::shared_ptr<connection>> conns;
  std::size_t pending = n;
  for (std::size_t i = 0; i < n; ++i) {
    conns.push_back(std::make_shared<connection>(ioc, ep));
    conns.back()->connect([&pending](beast::error_code) { --pending; });
  }
  run_until(ioc, [&pending] { return pending == 0; });
  return conns;
}

double wait_ready(net::io_context& ioc, const tcp::endpoint& ep, double deadline_s) {
  auto t0 = steady::now();
  blocking_client c(ioc, ep);
  for (;;) {
    auto r = c.get("/readyz");
    if (r.status == 200) return seconds_between(t0, steady::now());
    if (seconds_between(t0, steady::now()) > deadline_s) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

} // namespace bench
