// Remote workers over HTTP against a real taskd: leasing under concurrency, fencing of
// lost leases, long-poll wake-up, heartbeats and progress, failures, bad input.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string worker_types = R"(
[types.render]
handler = "worker"
concurrency = 3
max_attempts = 3
backoff = { type = "fixed", delay_ms = 10 }
[types.voice]
handler = "worker"
concurrency = 2
max_attempts = 2
backoff = { type = "fixed", delay_ms = 10 }
[types.echo]
handler = "builtin:echo"
)";

json::value lease(http_client& c, const std::string& worker, const json::array& types, int max = 1,
                  int wait_ms = 0, int lease_ms = 60000) {
  auto r = c.post("/api/v1/workers/lease", json::object{{"worker", worker},
                                                        {"types", types},
                                                        {"max", max},
                                                        {"wait_ms", wait_ms},
                                                        {"lease_ms", lease_ms}});
  REQUIRE_MESSAGE(r.status == 200, r.describe());
  return r.json.at("tasks");
}

std::string token_of(const json::value& leased) {
  return std::string(leased.at("lease").at("token").as_string());
}

http_response report(http_client& c, std::uint64_t id, const std::string& kind, json::object body) {
  return c.post("/api/v1/tasks/" + std::to_string(id) + "/" + kind, body);
}

} // namespace

TEST_CASE("workers: 8 concurrent workers process 5,000 tasks, each once, within concurrency") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  for (int batch = 0; batch < 5; ++batch) {
    json::array tasks;
    for (int i = 0; i < 1000; ++i)
      tasks.push_back(
          {{"type", i % 2 ? "render" : "voice"}, {"payload", {{"n", batch * 1000 + i}}}});
    REQUIRE(c.post("/api/v1/tasks/batch", json::object{{"tasks", tasks}}).status == 201);
  }
  std::atomic<int> in_flight_render{0}, in_flight_voice{0}, max_render{0}, max_voice{0};
  std::atomic<int> completed{0}, refused{0};
  std::mutex mu;
  std::multiset<std::uint64_t> done_ids;
  auto note_max = [](std::atomic<int>& now, std::atomic<int>& max) {
    int v = ++now;
    int m = max.load();
    while (v > m && !max.compare_exchange_weak(m, v)) {
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&, w] {
      auto wc = t.client();
      std::string name = "worker-" + std::to_string(w);
      while (completed.load() < 5000) {
        auto r =
            wc.post("/api/v1/workers/lease", json::object{{"worker", name},
                                                          {"types", json::array{"render", "voice"}},
                                                          {"max", 2},
                                                          {"wait_ms", 200}});
        if (r.status != 200) break;
        const auto& leased = r.json.at("tasks").as_array();
        // Held from the lease's answer until just before complete is sent: always inside
        // taskd's running interval, so more at once than the limit means taskd exceeded it.
        for (const auto& task : leased)
          note_max(task.at("type") == "render" ? in_flight_render : in_flight_voice,
                   task.at("type") == "render" ? max_render : max_voice);
        for (const auto& task : leased) {
          bool is_render = task.at("type") == "render";
          auto id = id_of(task);
          std::this_thread::sleep_for(1ms); // the work
          (is_render ? in_flight_render : in_flight_voice)--;
          auto done =
              report(wc, id, "complete", {{"token", token_of(task)}, {"result", {{"by", name}}}});
          if (done.status == 200) {
            std::lock_guard lock(mu);
            done_ids.insert(id);
            completed++;
          } else {
            refused++;
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(completed.load() == 5000);
  CHECK(refused.load() == 0);
  CHECK(done_ids.size() == 5000);
  CHECK(std::set<std::uint64_t>(done_ids.begin(), done_ids.end()).size() == 5000);
  CHECK(max_render.load() <= 3);
  CHECK(max_voice.load() <= 2);
  MESSAGE("most in flight at once: render " << max_render.load() << "/3, voice " << max_voice.load()
                                            << "/2");
  auto all = list_all(c);
  REQUIRE(all.size() == 5000);
  for (const auto& task : all) {
    CHECK(task.at("status") == "completed");
    CHECK(task.at("attempts") == 1);
    CHECK(task.at("result").at("by") == task.at("worker"));
  }
  auto listed = c.get("/api/v1/workers").json.at("workers").as_array();
  CHECK(listed.size() == 8);
  for (const auto& w : listed) CHECK(w.at("in_flight") == 0);
}

TEST_CASE("workers: a lost lease goes to another worker; the late complete gets 409") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  auto created = create_task(c, json::object{{"type", "render"}, {"payload", "frame-1"}});
  auto first = lease(c, "slow", {"render"}, 1, 0, 1000);
  REQUIRE(first.as_array().size() == 1);
  auto slow_token = token_of(first.at(0));
  // The slow worker stops heartbeating; a second worker waits for the task.
  auto second = lease(c, "fast", {"render"}, 1, 10000, 60000);
  REQUIRE(second.as_array().size() == 1);
  CHECK(id_of(second.at(0)) == id_of(created));
  CHECK(second.at(0).at("attempts") == 2);
  CHECK(token_of(second.at(0)) != slow_token);
  auto late = report(c, id_of(created), "complete", {{"token", slow_token}, {"result", "slow"}});
  CHECK(late.status == 409);
  CHECK(late.json.at("error").at("code") == "lease_lost");
  auto late_beat = report(c, id_of(created), "heartbeat", {{"token", slow_token}});
  CHECK(late_beat.status == 409);
  auto ok = report(c, id_of(created), "complete",
                   {{"token", token_of(second.at(0))}, {"result", "fast"}});
  REQUIRE_MESSAGE(ok.status == 200, ok.describe());
  auto final_task = get_task(c, id_of(created));
  CHECK(final_task.at("status") == "completed");
  CHECK(final_task.at("result") == "fast");
  CHECK(final_task.at("worker") == "fast");
  // After completion no token works any more.
  CHECK(report(c, id_of(created), "complete", {{"token", token_of(second.at(0))}}).status == 409);
  auto attempts = c.get("/api/v1/tasks/" + std::to_string(id_of(created)) + "/attempts");
  REQUIRE(attempts.status == 200);
  CHECK(json::serialize(attempts.json).find("lease of worker slow expired") != std::string::npos);
}

TEST_CASE("workers: a waiting lease answers as soon as a task is created") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  std::vector<double> waits;
  for (int round = 0; round < 5; ++round) {
    std::atomic<long long> answered_ns{0};
    json::value got;
    std::thread waiter([&] {
      auto wc = t.client();
      got = lease(wc, "poller", {"voice"}, 1, 20000);
      answered_ns = now_ns();
    });
    // Let the lease park (its worker shows up in the list), then create.
    wait_until(
        [&] {
          auto w = c.get("/api/v1/workers").json.at("workers").as_array();
          return !w.empty();
        },
        5s, "the waiting worker to register");
    std::this_thread::sleep_for(50ms); // not a wait for a condition: the poll must be parked
    long long sent_ns = now_ns();
    auto task = create_task(c, json::object{{"type", "voice"}, {"payload", round}});
    waiter.join();
    REQUIRE(got.as_array().size() == 1);
    CHECK(id_of(got.at(0)) == id_of(task));
    waits.push_back(static_cast<double>(answered_ns.load() - sent_ns) / 1e6);
    REQUIRE(report(c, id_of(task), "complete", {{"token", token_of(got.at(0))}}).status == 200);
  }
  std::sort(waits.begin(), waits.end());
  MESSAGE("create -> waiting lease answered: median " << waits[2] << " ms, max " << waits.back()
                                                      << " ms");
  // The bound is generous (machines vary); the median on an idle 2-core VM is a few ms.
  CHECK(waits[2] < 500);
}

TEST_CASE("workers: heartbeats extend the lease and report progress, live") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  ws_client ws(t.port());
  REQUIRE(ws.connected());
  ws.next_matching([](const json::value& m) { return m.at("event") == "hello"; }, 5s, "hello");
  auto task = create_task(c, json::object{{"type", "render"}, {"payload", 1}});
  auto leased = lease(c, "w", {"render"}, 1, 0, 1000);
  REQUIRE(leased.as_array().size() == 1);
  auto token = token_of(leased.at(0));
  // Heartbeats every 300 ms keep a 1 s lease alive for 3 s.
  for (int i = 1; i <= 10; ++i) {
    auto r = report(c, id_of(task), "heartbeat", {{"token", token}, {"progress", i * 10}});
    REQUIRE_MESSAGE(r.status == 200, r.describe());
    CHECK(r.json.at("progress") == i * 10);
    std::this_thread::sleep_for(300ms); // the worker's work, between heartbeats
  }
  CHECK(get_task(c, id_of(task)).at("status") == "in_progress");
  CHECK(get_task(c, id_of(task)).at("attempts") == 1);
  ws.next_matching(
      [](const json::value& m) {
        return m.at("event") == "task" && m.at("task").at("progress") == 100;
      },
      5s, "progress 100 on the event stream");
  REQUIRE(
      report(c, id_of(task), "log", {{"token", token}, {"lines", {"step 1", "step 2"}}}).status ==
      200);
  REQUIRE(
      report(c, id_of(task), "complete", {{"token", token}, {"result", {{"frames", 3}}}}).status ==
      200);
  auto logs = c.get("/api/v1/tasks/" + std::to_string(id_of(task)) + "/logs").json;
  CHECK(logs.at("lines") == json::array{"[attempt 1] step 1", "[attempt 1] step 2"});
}

TEST_CASE("workers: fail retries per max_attempts; retryable false fails at once") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  auto a = create_task(c, json::object{{"type", "voice"}, {"payload", "a"}});
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto leased = lease(c, "w", {"voice"}, 1, 5000);
    REQUIRE(leased.as_array().size() == 1);
    CHECK(leased.at(0).at("attempts") == attempt);
    auto r = report(c, id_of(a), "fail", {{"token", token_of(leased.at(0))}, {"error", "boom"}});
    REQUIRE_MESSAGE(r.status == 200, r.describe());
  }
  auto failed = wait_terminal(c, id_of(a), 5s);
  CHECK(failed.at("status") == "failed");
  CHECK(failed.at("error") == "boom");
  auto b = create_task(c, json::object{{"type", "render"}, {"payload", "b"}});
  auto leased = lease(c, "w", {"render"}, 1, 5000);
  REQUIRE(leased.as_array().size() == 1);
  auto r =
      report(c, id_of(b), "fail",
             {{"token", token_of(leased.at(0))}, {"error", "bad input"}, {"retryable", false}});
  REQUIRE(r.status == 200);
  CHECK(r.json.at("status") == "failed");
  CHECK(r.json.at("attempts") == 1);
}

TEST_CASE("workers: bad input gets a clear 4xx and changes nothing") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  auto code = [](const http_response& r) {
    return r.json.is_object() && r.json.as_object().contains("error")
               ? std::string(r.json.at("error").at("code").as_string())
               : "";
  };
  auto bad_lease = [&](const std::string& body) {
    return c.post_raw("/api/v1/workers/lease", body);
  };
  CHECK(code(bad_lease("{not json")) == "invalid_json");
  CHECK(code(bad_lease("[]")) == "invalid_request");
  CHECK(code(bad_lease(R"({"types":["render"]})")) == "invalid_request");
  CHECK(code(bad_lease(R"({"worker":"w","types":[]})")) == "invalid_request");
  CHECK(code(bad_lease(R"({"worker":"w","types":["nope"]})")) == "unknown_type");
  CHECK(code(bad_lease(R"({"worker":"w","types":["echo"]})")) == "invalid_request");
  CHECK(code(bad_lease(R"({"worker":"w","types":["render"],"max":0})")) == "invalid_request");
  CHECK(code(bad_lease(R"({"worker":"w","types":["render"],"wait_ms":600000})")) ==
        "invalid_request");
  CHECK(code(bad_lease(R"({"worker":"w","types":["render"],"lease_ms":5})")) == "invalid_request");
  CHECK(c.get("/api/v1/workers/lease").status == 405);

  auto task = create_task(c, json::object{{"type", "render"}, {"payload", 1}});
  auto id = std::to_string(id_of(task));
  CHECK(code(c.post_raw("/api/v1/tasks/" + id + "/complete", "{oops")) == "invalid_json");
  CHECK(code(c.post("/api/v1/tasks/" + id + "/complete", json::object{})) == "invalid_request");
  CHECK(code(c.post("/api/v1/tasks/" + id + "/complete", json::object{{"token", "x"}})) ==
        "lease_lost");
  CHECK(code(c.post("/api/v1/tasks/999999/complete", json::object{{"token", "x"}})) == "not_found");
  CHECK(code(c.post("/api/v1/tasks/" + id + "/fail", json::object{{"token", "x"}})) ==
        "invalid_request");
  CHECK(code(c.post("/api/v1/tasks/" + id + "/heartbeat",
                    json::object{{"token", "x"}, {"progress", 101}})) == "invalid_request");
  json::array many;
  for (int i = 0; i < 1001; ++i) many.push_back("line");
  CHECK(code(c.post("/api/v1/tasks/" + id + "/log",
                    json::object{{"token", "x"}, {"lines", many}})) == "invalid_request");
  CHECK(c.get("/api/v1/tasks/" + id + "/complete").status == 405);
  // None of it touched the task.
  auto after = get_task(c, id_of(task));
  CHECK(after.at("status") == "pending");
  CHECK(after.at("attempts") == 0);
  CHECK(c.get("/healthz").status == 200);
}

TEST_CASE("workers: the example workers (Python, Node) process tasks through taskd") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  json::array tasks;
  for (int i = 0; i < 40; ++i) tasks.push_back({{"type", "render"}, {"payload", {{"i", i}}}});
  REQUIRE(c.post("/api/v1/tasks/batch", json::object{{"tasks", tasks}}).status == 201);
  const std::string url = "TASKD_URL=http://127.0.0.1:" + std::to_string(t.port());
  const std::string dir = std::string(TASKD_SOURCE_DIR) + "/examples/workers/";
  auto py = run_command({"env", url, "MAX_TASKS=20", "python3", dir + "worker.py", "render"}, 60s);
  CHECK_MESSAGE(py.exit_code == 0, py.output);
  auto node = run_command({"env", url, "MAX_TASKS=20", "node", dir + "worker.mjs", "render"}, 60s);
  CHECK_MESSAGE(node.exit_code == 0, node.output);
  auto all = list_all(c);
  REQUIRE(all.size() == 40);
  std::set<std::string> workers;
  for (const auto& task : all) {
    CHECK(task.at("status") == "completed");
    CHECK(task.at("result").at("echo") == task.at("payload"));
    CHECK(task.at("result").at("by") == task.at("worker"));
    workers.insert(std::string(task.at("worker").as_string()));
  }
  CHECK(workers.size() == 2); // one Python, one Node process
}

TEST_CASE("workers: the worker list stays bounded; idle workers seen longest ago go first") {
  taskd_process t(config_with(worker_types));
  auto c = t.client();
  create_task(c, json::object{{"type", "render"}, {"payload", 1}});
  auto held = lease(c, "holder", {"render"}, 1, 5000);
  REQUIRE(held.as_array().size() == 1); // "holder" keeps a lease: never forgotten
  for (int i = 0; i < 1100; ++i) lease(c, "w-" + std::to_string(i), {"voice"}, 1, 0);
  auto listed = c.get("/api/v1/workers").json.at("workers").as_array();
  CHECK(listed.size() == 1000);
  std::set<std::string> ids;
  for (const auto& w : listed) ids.insert(std::string(w.at("id").as_string()));
  CHECK(ids.count("holder") == 1);
  CHECK(ids.count("w-1099") == 1);
  CHECK(ids.count("w-0") == 0);
}

// A sync type served by workers, and a local sync type: they share the one sync lane.
const std::string sync_types = R"(
[types.ship]
handler = "worker"
mode = "sync"
[types.note]
handler = "builtin:noop"
mode = "sync"
)";

TEST_CASE("workers: sync worker types share the one sync lane, highest priority first") {
  taskd_process t(config_with(sync_types));
  auto c = t.client();
  json::array batch{{{"type", "ship"}, {"priority", 1}, {"payload", "low"}},
                    {{"type", "ship"}, {"priority", 9}, {"payload", "high"}},
                    {{"type", "note"}, {"priority", 5}, {"payload", "local"}}};
  auto created = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(created.status == 201, created.describe());
  auto id_of = [&](int i) {
    return created.json.at("tasks").at(i).at("id").to_number<std::uint64_t>();
  };
  auto status_of = [&](std::uint64_t id) {
    return std::string(c.get("/api/v1/tasks/" + std::to_string(id)).json.at("status").as_string());
  };
  // The lane's turn is the priority-9 task: a worker gets it, and only it (one at a time).
  auto first = lease(c, "w", {"ship"}, 5, 5000);
  REQUIRE(first.as_array().size() == 1);
  CHECK(first.at(0).at("payload") == "high");
  // While it runs, the lane is held: the local sync task waits, no second ship is leased.
  CHECK(lease(c, "w", {"ship"}, 5, 300).as_array().empty());
  CHECK(status_of(id_of(2)) == "pending");
  REQUIRE(report(c, id_of(1), "complete", {{"token", token_of(first.at(0))}}).status == 200);
  // Next the priority-5 local task runs, then the priority-1 ship goes to a worker.
  CHECK(poll_until([&] { return status_of(id_of(2)) == "completed"; }, 10s));
  auto second = lease(c, "w", {"ship"}, 5, 5000);
  REQUIRE(second.as_array().size() == 1);
  CHECK(second.at(0).at("payload") == "low");
  REQUIRE(report(c, id_of(0), "complete", {{"token", token_of(second.at(0))}}).status == 200);
  auto local = c.get("/api/v1/tasks/" + std::to_string(id_of(2))).json;
  auto high = c.get("/api/v1/tasks/" + std::to_string(id_of(1))).json;
  auto low = c.get("/api/v1/tasks/" + std::to_string(id_of(0))).json;
  // Never overlapping: each started after the one before it finished.
  CHECK(std::string(local.at("started_at").as_string()) >=
        std::string(high.at("finished_at").as_string()));
  CHECK(std::string(low.at("started_at").as_string()) >=
        std::string(local.at("finished_at").as_string()));
}

TEST_CASE(
    "workers: a sync worker task waiting for a worker can be cancelled and the lane moves on") {
  taskd_process t(config_with(sync_types));
  auto c = t.client();
  auto ship = c.post("/api/v1/tasks", json::object{{"type", "ship"}, {"priority", 9}});
  REQUIRE(ship.status == 201);
  auto note = c.post("/api/v1/tasks", json::object{{"type", "note"}, {"priority", 1}});
  REQUIRE(note.status == 201);
  auto note_id = std::to_string(note.json.at("id").to_number<std::uint64_t>());
  // No worker asks for ship: the lane holds, the note waits behind it.
  CHECK_FALSE(poll_until(
      [&] { return c.get("/api/v1/tasks/" + note_id).json.at("status") != "pending"; }, 300ms));
  auto ship_id = std::to_string(ship.json.at("id").to_number<std::uint64_t>());
  REQUIRE(c.post("/api/v1/tasks/" + ship_id + "/cancel", json::object{}).status == 200);
  CHECK(poll_until(
      [&] { return c.get("/api/v1/tasks/" + note_id).json.at("status") == "completed"; }, 10s));
}
