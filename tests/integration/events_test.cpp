// The WebSocket event stream and task timelines against a real taskd: live order,
// replay with `since`, filters, reset on a seq the change log no longer holds, and a
// subscriber that never reads.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string event_types = R"(
[types.echo]
handler = "builtin:echo"

[types.noop]
handler = "builtin:noop"
concurrency = 50

[types.fail]
handler = "builtin:fail"
max_attempts = 1
)";

bool is_event(const json::value& m, const char* name) {
  return m.is_object() && m.as_object().contains("event") && m.at("event") == name;
}

bool is_task_event(const json::value& m, std::uint64_t id, const char* status) {
  return is_event(m, "task") && id_of(m.at("task")) == id && m.at("task").at("status") == status;
}

std::uint64_t seq_of(const json::value& m) { return m.at("seq").to_number<std::uint64_t>(); }

/// Opens a stream and reads its hello; returns the hello's seq.
std::uint64_t open_stream(ws_client& ws) {
  REQUIRE_MESSAGE(ws.connected(), ws.connect_error());
  auto hello = ws.next_matching([](auto& m) { return is_event(m, "hello"); }, 10s, "hello");
  return seq_of(hello);
}

/// A WebSocket handshake by hand, for a client that then never reads or answers pings.
void send_upgrade(raw_connection& conn) {
  REQUIRE(conn.connected());
  REQUIRE(conn.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"));
}

void create_batch(http_client& c, const std::string& type, int n, const json::value& payload) {
  json::array tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(json::object{{"type", type}, {"payload", payload}});
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", tasks}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
}

} // namespace

TEST_CASE("events: every create and transition arrives live, in change-log order") {
  taskd_process d(config_with(event_types));
  ws_client ws(d.port());
  auto hello_seq = open_stream(ws);
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "echo"}, {"payload", {{"n", 1}}}});
  std::vector<json::value> seen;
  auto done = ws.next_matching([&](auto& m) { return is_task_event(m, id_of(t), "completed"); },
                               10s, "the completed event", &seen);
  CHECK(done.at("task").at("result").at("n") == 1);
  std::vector<std::string> statuses;
  std::uint64_t last = hello_seq;
  for (auto& m : seen) {
    REQUIRE(is_event(m, "task"));
    CHECK(seq_of(m) > last);
    last = seq_of(m);
    statuses.emplace_back(m.at("task").at("status").as_string());
  }
  CHECK(statuses == std::vector<std::string>{"pending", "in_progress", "completed"});

  // A delete is an event too.
  REQUIRE(c.del("/api/v1/tasks/" + std::to_string(id_of(t))).status == 200);
  auto del = ws.next_matching([](auto& m) { return is_event(m, "deleted"); }, 10s, "deleted");
  CHECK(del.at("id").to_number<std::uint64_t>() == id_of(t));
}

TEST_CASE("events: a reconnecting client replays from its last seq, filtered, then goes live") {
  taskd_process d(config_with(event_types));
  auto c = d.client();
  std::uint64_t last_seen = 0;
  {
    ws_client ws(d.port());
    last_seen = open_stream(ws);
  }
  // Changes made while the reconnecting client did not listen. A watcher waits for them
  // in the change log: the API may show a change up to one WAL sync before the stream
  // carries it, and a change that went live between the hello and the subscribe below
  // would reach the client unfiltered.
  ws_client watcher(d.port());
  open_stream(watcher);
  auto a = create_task(c, json::object{{"type", "echo"}, {"payload", {{"k", "a"}}}});
  auto b = create_task(c, json::object{{"type", "fail"}});
  bool a_done = false, b_done = false;
  watcher.next_matching(
      [&](auto& m) {
        a_done = a_done || is_task_event(m, id_of(a), "completed");
        b_done = b_done || is_task_event(m, id_of(b), "failed");
        return a_done && b_done;
      },
      10s, "a completes and b fails");

  ws_client ws(d.port());
  open_stream(ws);
  ws.send(R"({"subscribe":{"types":["echo"]},"since":)" + std::to_string(last_seen) + "}");
  std::vector<json::value> seen;
  ws.next_matching([&](auto& m) { return is_task_event(m, id_of(a), "completed"); }, 10s,
                   "the replayed completion of a", &seen);
  int replayed = 0;
  for (auto& m : seen) {
    if (!is_event(m, "task")) continue;
    CHECK(m.at("task").at("type") == "echo"); // the fail task is filtered out
    CHECK(seq_of(m) > last_seen);
    ++replayed;
  }
  CHECK(replayed == 3);
  // Then live, with the same filter.
  create_task(c, json::object{{"type", "fail"}});
  auto live = create_task(c, json::object{{"type", "echo"}});
  auto m = ws.next_matching([](auto& m) { return is_event(m, "task"); }, 10s, "a live event");
  CHECK(id_of(m.at("task")) == id_of(live));
}

TEST_CASE("events: status and id filters") {
  taskd_process d(config_with(event_types));
  auto c = d.client();
  ws_client ws(d.port());
  open_stream(ws);
  auto first = create_task(c, json::object{{"type", "echo"}});
  wait_terminal(c, id_of(first), 10s);
  ws_client only(d.port());
  open_stream(only);
  only.send(R"({"subscribe":{"statuses":["completed"],"ids":[)" + std::to_string(id_of(first) + 2) +
            "]}}");
  only.next_matching([](auto& m) { return is_event(m, "subscribed"); }, 10s, "subscribed");
  create_task(c, json::object{{"type", "echo"}});
  auto wanted = create_task(c, json::object{{"type", "echo"}});
  REQUIRE(id_of(wanted) == id_of(first) + 2);
  auto m = only.next_matching([](auto& m) { return is_event(m, "task"); }, 10s, "a filtered event");
  CHECK(id_of(m.at("task")) == id_of(wanted));
  CHECK(m.at("task").at("status") == "completed");
  // Nothing else matched: the next message (after another matching change) is that one.
  wait_terminal(c, id_of(wanted), 10s);
  CHECK(only.next(300ms).is_null());
}

TEST_CASE("events: a seq older than the change log holds, or from elsewhere, gets reset") {
  taskd_process d(config_with(event_types + "\n[retention]\nchange_log_max = 1000\n"));
  auto c = d.client();
  // 3 changes per task: enough to trim the oldest entries (trimming runs in slack steps).
  for (int i = 0; i < 8; ++i) create_batch(c, "noop", 250, json::object{});
  wait_until([&] { return list_all(c, "status=completed").size() == 2000; }, 60s,
             "2000 completed tasks");
  wait_until(
      [&] {
        auto info = c.get("/api/v1/admin/info");
        return info.status == 200 && info.json.at("oldest_seq").to_number<std::uint64_t>() > 2;
      },
      20s, "the change log to be trimmed");
  ws_client ws(d.port());
  auto head = open_stream(ws);
  ws.send(R"({"since":1})");
  auto reset = ws.next_matching([](auto& m) { return is_event(m, "reset"); }, 10s, "reset");
  CHECK(seq_of(reset) == head);
  ws.send(R"({"since":)" + std::to_string(head + 1000000) + "}");
  ws.next_matching([](auto& m) { return is_event(m, "reset"); }, 10s, "reset for a future seq");
  // And the stream goes on.
  auto t = create_task(c, json::object{{"type", "echo"}});
  ws.next_matching([&](auto& m) { return is_task_event(m, id_of(t), "completed"); }, 10s,
                   "live after reset");
}

TEST_CASE("events: a bad client message gets an error event and the stream stays up") {
  taskd_process d(config_with(event_types));
  ws_client ws(d.port());
  open_stream(ws);
  for (const char* bad : {"not json", R"({"subscribe":{"statuses":["nope"]}})", R"({"since":-1})",
                          R"({"subscribe":{"colour":["red"]}})", "[1,2]"}) {
    ws.send(bad);
    auto e = ws.next_matching([](auto& m) { return is_event(m, "error"); }, 10s, bad);
    CHECK(e.at("error").at("code") == "invalid_request");
  }
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "echo"}});
  ws.next_matching([&](auto& m) { return is_task_event(m, id_of(t), "completed"); }, 10s,
                   "events after errors");
  // Plain GET without an upgrade is a 400, not a hang.
  CHECK(c.get("/api/v1/events").status == 400);
}

TEST_CASE("events: a subscriber that never reads is reset, not buffered without bound") {
  taskd_process d(config_with(event_types + "\n[events]\nmax_queued = 16\n"));
  auto c = d.client();
  // A raw WebSocket handshake, then never read.
  raw_connection stuck(d.port());
  send_upgrade(stuck);
  wait_until([&] { return c.get("/api/v1/admin/info").json.at("subscribers") == 1; }, 10s,
             "the stuck subscriber to join");
  // Floods of 1000 tasks of 12 KB (3 events each, ~36 MB of events per flood, far more
  // than socket buffers hold). The first two bring RocksDB's memtables and caches to their
  // steady size; an unbounded backlog would then keep growing by ~36 MB per flood.
  std::string big(12000, 'x');
  std::vector<std::uint64_t> rss;
  std::int64_t max_backlog = 0;
  for (int flood = 1; flood <= 4; ++flood) {
    for (int i = 0; i < 20; ++i) create_batch(c, "noop", 50, json::object{{"blob", big}});
    wait_until([&] { return list_all(c, "status=completed").size() == 1000u * flood; }, 60s,
               "the flood's tasks to complete");
    rss.push_back(rss_kib(d.pid()));
    max_backlog =
        std::max(max_backlog,
                 c.get("/api/v1/admin/info").json.at("event_backlog").to_number<std::int64_t>());
  }
  // What taskd holds for the subscriber: at most max_queued, plus a reset and the message
  // on the wire.
  CHECK(max_backlog <= 18);
  MESSAGE("RSS after each flood (KiB): " << rss[0] << " " << rss[1] << " " << rss[2] << " "
                                         << rss[3]);
  // RSS is noisy (memtables fill and flush), so only a generous bound: unbounded, the
  // backlog alone would add ~108 MB from the first flood to the last.
  CHECK_MESSAGE(rss[3] < rss[0] + 160 * 1024, "RSS kept growing: " << rss[0] << " -> " << rss[3]);
  // Reading now finds a reset among what was sent (after the handshake's response).
  auto got = stuck.read_until("\"event\":\"reset\"", 20s);
  CHECK(got.find("101 Switching Protocols") != std::string::npos);
  CHECK(got.find("\"event\":\"reset\"") != std::string::npos);
  // Other subscribers are unaffected.
  ws_client ws(d.port());
  open_stream(ws);
  auto t = create_task(c, json::object{{"type", "echo"}});
  ws.next_matching([&](auto& m) { return is_task_event(m, id_of(t), "completed"); }, 10s,
                   "a healthy subscriber's event");
}

TEST_CASE("timeline: GET /api/v1/tasks/{id}/events lists a task's changes in order") {
  taskd_process d(config_with(event_types));
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "fail"}, {"payload", {{"message", "boom"}}}});
  wait_terminal(c, id_of(t), 10s);
  auto r = c.get("/api/v1/tasks/" + std::to_string(id_of(t)) + "/events");
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  std::vector<std::string> statuses;
  std::uint64_t last = 0;
  for (auto& e : r.json.at("events").as_array()) {
    CHECK(seq_of(e) > last);
    last = seq_of(e);
    statuses.emplace_back(e.at("task").at("status").as_string());
  }
  CHECK(statuses == std::vector<std::string>{"pending", "in_progress", "failed"});
  CHECK(r.json.at("events").as_array().back().at("task").at("error") == "boom");
  CHECK(c.get("/api/v1/tasks/999999/events").status == 404);
  REQUIRE(c.del("/api/v1/tasks/" + std::to_string(id_of(t))).status == 200);
  CHECK(c.get("/api/v1/tasks/" + std::to_string(id_of(t)) + "/events").status == 404);
}

TEST_CASE("events: pings keep a live client connected and drop a silent one") {
  taskd_process d(config_with(event_types + "\n[events]\nidle_timeout_ms = 1000\n"));
  auto c = d.client();
  ws_client live(d.port()); // Beast answers pings with pongs
  open_stream(live);
  // A raw client completes the handshake and then never answers anything.
  raw_connection silent(d.port());
  send_upgrade(silent);
  wait_until([&] { return c.get("/api/v1/admin/info").json.at("subscribers") == 2; }, 10s,
             "both subscribers to join");
  wait_until([&] { return c.get("/api/v1/admin/info").json.at("subscribers") == 1; }, 10s,
             "the silent subscriber to be dropped");
  // The answering client joined first and was just as idle: pongs kept it.
  auto t = create_task(c, json::object{{"type", "echo"}});
  live.next_matching([&](auto& m) { return is_task_event(m, id_of(t), "completed"); }, 10s,
                     "an event on the pinged connection");
  CHECK(!live.closed());
}
