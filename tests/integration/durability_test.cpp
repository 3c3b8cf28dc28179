// Durability: what got a 201 survives kill -9 and runs to the end after a restart; a
// graceful SIGTERM drains and keeps everything; attempts cut short by a crash are retried
// or abandoned.

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

const std::string durability_types = R"(
[types.echo]
handler = "builtin:echo"
concurrency = 16
max_attempts = 5
backoff = { type = "fixed", delay_ms = 20 }

[types.nap]
handler = "builtin:sleep"
concurrency = 64
max_attempts = 5
backoff = { type = "fixed", delay_ms = 20 }

[types.flaky]
handler = "builtin:fail"
concurrency = 16
max_attempts = 5
backoff = { type = "fixed", delay_ms = 20 }

[types.doomed]
handler = "builtin:fail"
concurrency = 16
max_attempts = 2
backoff = { type = "fixed", delay_ms = 20 }
)";

enum class kind { echo, nap, flaky, delayed, doomed };
constexpr int batch_size = 10;
constexpr int kind_count = 5;

struct created_task {
  std::uint64_t id = 0;
  kind k = kind::echo;
  std::string type;
  json::value payload;
};

json::object request_for(kind k, int thread, int seq) {
  json::object payload{{"thread", thread}, {"seq", seq}};
  switch (k) {
  case kind::echo: return {{"type", "echo"}, {"payload", payload}};
  case kind::nap: payload["ms"] = 50; return {{"type", "nap"}, {"payload", payload}};
  case kind::flaky: payload["until_attempt"] = 2; return {{"type", "flaky"}, {"payload", payload}};
  case kind::delayed: return {{"type", "echo"}, {"payload", payload}, {"delay_ms", 300}};
  case kind::doomed:
    payload["message"] = "doomed";
    return {{"type", "doomed"}, {"payload", payload}};
  }
  return {};
}

// Creates tasks from several threads as fast as the server takes them; records every id
// that got a 201. The load runs until `stop`; failures (the server being killed) are
// expected and simply retried.
class load_generator {
public:
  load_generator(std::uint16_t port, int threads, int cycle) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, port, t, cycle] {
        http_client c("127.0.0.1", port, 5s);
        for (int seq = 0; !stop_; ++seq) {
          auto k = static_cast<kind>((seq + t) % kind_count);
          auto body = request_for(k, cycle * 100 + t, seq);
          auto r = c.post("/api/v1/tasks", body);
          if (r.status == 201) {
            std::lock_guard<std::mutex> lock(mu_);
            created_.push_back(
                {id_of(r.json), k, std::string(body.at("type").as_string()), body.at("payload")});
          } else if (r.status == 0) {
            std::this_thread::sleep_for(1ms); // server down: do not spin
          } else {
            std::lock_guard<std::mutex> lock(mu_);
            unexpected_.push_back(r.describe());
          }
        }
      });
    }
  }
  ~load_generator() { stop(); }

  /// One more thread creating batches of `batch_size` echo tasks sharing a tag.
  void add_batch_thread(std::uint16_t port, int cycle, int batch_size) {
    threads_.emplace_back([this, port, cycle, batch_size] {
      http_client c("127.0.0.1", port, 5s);
      for (int n = 0; !stop_; ++n) {
        std::string tag = std::to_string(cycle) + "-" + std::to_string(n);
        json::array items;
        for (int i = 0; i < batch_size; ++i)
          items.push_back(json::object{{"type", "echo"}, {"payload", {{"batch", tag}, {"i", i}}}});
        auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", items}});
        std::lock_guard<std::mutex> lock(mu_);
        if (r.status == 201) {
          for (auto& t : r.json.at("tasks").as_array())
            created_.push_back({id_of(t), kind::echo, "echo", t.at("payload")});
        } else if (r.status != 0) {
          unexpected_.push_back(r.describe());
        }
      }
    });
  }

  std::vector<created_task> stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    return created_;
  }
  std::vector<std::string> unexpected() {
    std::lock_guard<std::mutex> lock(mu_);
    return unexpected_;
  }

private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<created_task> created_;
  std::vector<std::string> unexpected_;
  std::vector<std::thread> threads_;
};

// True once no task of any type is pending or in progress.
bool all_settled(http_client& c) {
  auto r = c.get("/api/v1/types");
  if (r.status != 200) return false;
  for (auto& t : r.json.at("types").as_array()) {
    auto& counts = t.at("counts");
    if (counts.at("pending") != 0 || counts.at("in_progress") != 0) return false;
  }
  return true;
}

std::string settle_detail(http_client& c) {
  auto r = c.get("/api/v1/types");
  return "types: " + r.describe();
}

// The problems with one recorded task after a restart ("" if none).
std::string check_task(const created_task& want, const json::object* got, bool finished) {
  std::string id = "task " + std::to_string(want.id) + ": ";
  if (!got) return id + "missing";
  if (got->at("type") != json::value(want.type)) return id + "type changed";
  if (got->at("payload") != want.payload) return id + "payload changed: " + json::serialize(*got);
  if (!finished) return "";
  auto status = std::string(got->at("status").as_string());
  switch (want.k) {
  case kind::doomed:
    if (status != "failed" && status != "abandoned") return id + "expected failed: " + status;
    return "";
  case kind::echo:
  case kind::delayed:
    if (got->at("result") != want.payload) return id + "echo result differs";
    [[fallthrough]];
  default:
    if (status != "completed") return id + "expected completed: " + json::serialize(*got);
    return "";
  }
}

void verify_all(http_client& c, const std::vector<created_task>& recorded, bool finished) {
  std::map<std::uint64_t, json::object> by_id;
  for (auto& t : list_all(c)) by_id.emplace(id_of(t), t);
  std::vector<std::string> problems;
  for (auto& want : recorded) {
    auto it = by_id.find(want.id);
    auto p = check_task(want, it == by_id.end() ? nullptr : &it->second, finished);
    if (!p.empty()) problems.push_back(p);
  }
  std::string first;
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) first += problems[i] + "\n";
  CHECK_MESSAGE(problems.empty(), problems.size()
                                      << " of " << recorded.size() << " recorded tasks are wrong:\n"
                                      << first);
  CHECK(by_id.size() >= recorded.size());

  // A batch is one atomic write: after a crash it is there completely or not at all.
  std::map<std::string, int> batch_sizes;
  for (auto& [id, t] : by_id) {
    auto& p = t.at("payload");
    if (p.is_object() && p.as_object().contains("batch"))
      batch_sizes[std::string(p.at("batch").as_string())] += 1;
  }
  int partial = 0;
  for (auto& [tag, n] : batch_sizes) partial += n != batch_size;
  CHECK_MESSAGE(partial == 0, partial << " batches are partly stored");

  if (!finished) return; // tasks are still moving: counts would race the listing
  // The per-type status counters (kept incrementally) match the records.
  std::map<std::string, std::map<std::string, std::uint64_t>> from_records;
  for (auto& [id, t] : by_id)
    from_records[std::string(t.at("type").as_string())][std::string(t.at("status").as_string())]++;
  auto types = c.get("/api/v1/types");
  REQUIRE(types.status == 200);
  for (auto& t : types.json.at("types").as_array()) {
    std::string name(t.at("name").as_string());
    for (auto& [status, n] : t.at("counts").as_object()) {
      std::uint64_t want = from_records[name][std::string(status)];
      CHECK_MESSAGE(n.to_number<std::uint64_t>() == want,
                    "counts of " << name << "/" << status << ": " << n << " vs " << want);
    }
  }
  // The status index agrees with the records too.
  std::size_t completed = 0;
  for (auto& [id, t] : by_id) completed += t.at("status") == "completed";
  CHECK(list_all(c, "status=completed").size() == completed);
}

} // namespace

TEST_CASE("integration: kill -9 under load loses nothing that was acknowledged") {
  taskd_process d(config_with(durability_types));
  std::vector<created_task> recorded;
  std::uint64_t max_seen = 0;
  for (int cycle = 0; cycle < 3; ++cycle) {
    CAPTURE(cycle);
    load_generator load(d.port(), 4, cycle);
    load.add_batch_thread(d.port(), cycle, batch_size);
    // The load runs for 1.5 s of steady-clock time; the kill lands in the middle of it.
    std::this_thread::sleep_for(1500ms);
    d.kill9();
    auto created = load.stop();
    CHECK(load.unexpected().empty());
    REQUIRE(created.size() > 20); // the load really ran
    MESSAGE("cycle " << cycle << ": " << created.size() << " tasks acknowledged");
    // Ids are never reused across restarts.
    std::uint64_t min_new = UINT64_MAX;
    for (auto& t : created) min_new = std::min(min_new, t.id);
    CHECK(min_new > max_seen);
    for (auto& t : created) max_seen = std::max(max_seen, t.id);
    recorded.insert(recorded.end(), created.begin(), created.end());

    d.start();
    auto c = d.client();
    // Right after the restart: everything acknowledged is there, payload intact.
    verify_all(c, recorded, false);
    wait_until([&] { return all_settled(c); }, 30s, "every task to finish after the restart",
               [&] { return settle_detail(c); });
    verify_all(c, recorded, true);
  }
}

TEST_CASE("integration: SIGTERM drains running tasks, exits 0 and a restart keeps all") {
  taskd_process d(config_with(R"(
[types.echo]
handler = "builtin:echo"

[types.nap]
handler = "builtin:sleep"
concurrency = 2
max_attempts = 1
)",
                              "shutdown_grace_ms = 5000\n"));
  auto c = d.client();
  std::vector<std::uint64_t> done_ids, long_ids, queued_ids;
  for (int i = 0; i < 2; ++i)
    done_ids.push_back(id_of(create_task(c, json::object{{"type", "echo"}, {"payload", i}})));
  for (auto id : done_ids) wait_terminal(c, id, 5s);
  for (int i = 0; i < 2; ++i)
    long_ids.push_back(
        id_of(create_task(c, json::object{{"type", "nap"}, {"payload", {{"ms", 800}}}})));
  for (int i = 0; i < 3; ++i)
    queued_ids.push_back(
        id_of(create_task(c, json::object{{"type", "nap"}, {"payload", {{"ms", 20}}}})));
  auto delayed = create_task(c, json::object{{"type", "echo"}, {"delay_ms", 600000}});
  auto keyed = create_task(c, json::object{{"type", "echo"}, {"idempotency_key", "once-only"}});
  wait_until(
      [&] {
        return status_of(c, long_ids[0]) == "in_progress" &&
               status_of(c, long_ids[1]) == "in_progress";
      },
      5s, "both long naps to run");

  d.send_signal(SIGTERM);
  // While the naps finish, the server is up but refuses new work.
  http_response last;
  wait_until(
      [&] {
        last = c.post("/api/v1/tasks", json::object{{"type", "echo"}});
        if (last.status == 201) queued_ids.push_back(id_of(last.json)); // before the signal
        return last.status == 503;
      },
      700ms, "creates to be refused with 503 while draining", [&] { return last.describe(); });
  CHECK(last.json.at("error").at("code") == "shutting_down");
  CHECK(d.wait_exit(10s) == 0);
  CHECK(d.log().find("listening") != std::string::npos);

  d.start();
  auto c2 = d.client();
  for (auto id : done_ids) CHECK(status_of(c2, id) == "completed");
  // The running naps were allowed to finish (max_attempts 1: a stall would abandon them).
  for (auto id : long_ids) {
    auto t = get_task(c2, id);
    CHECK(t.at("status") == "completed");
    CHECK(t.at("attempts") == 1);
  }
  // Tasks still queued at the signal run after the restart.
  for (auto id : queued_ids) {
    auto t = wait_terminal(c2, id, 5s);
    CHECK(t.at("status") == "completed");
    CHECK(t.at("attempts") == 1);
  }
  auto still = get_task(c2, id_of(delayed));
  CHECK(still.at("status") == "pending");
  CHECK(still.at("run_at") == delayed.at("run_at"));
  CHECK(c2.get("/readyz").status == 200);
  // Idempotency keys are durable too.
  auto again =
      c2.post("/api/v1/tasks", json::object{{"type", "echo"}, {"idempotency_key", "once-only"}});
  CHECK_MESSAGE(again.status == 200, again.describe());
  CHECK(id_of(again.json) == id_of(keyed));
}

TEST_CASE("integration: an exec attempt cut short by kill -9 is retried or abandoned") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.twice]
handler = "exec"
command = ["@DIR@/twice.sh"]
max_attempts = 2
timeout_ms = 30000

[types.once]
handler = "exec"
command = ["@DIR@/once.sh"]
max_attempts = 1
timeout_ms = 30000
)");
  o.start = false;
  taskd_process d(o);
  // First run: note the pid and hang; a second run finishes at once.
  auto script = [&](const std::string& name) {
    std::string base = d.dir() + "/" + name;
    return "#!/bin/sh\n"
           "if [ -e " +
           base +
           ".ran ]; then echo '{\"second\": true}'; exit 0; fi\n"
           "touch " +
           base +
           ".ran\n"
           "echo $$ > " +
           base + ".pid.tmp && mv " + base + ".pid.tmp " + base +
           ".pid\n"
           "exec sleep 30\n";
  };
  write_file(d.dir() + "/twice.sh", script("twice"), true);
  write_file(d.dir() + "/once.sh", script("once"), true);
  d.start();
  auto c = d.client();
  auto twice = create_task(c, json::object{{"type", "twice"}});
  auto once = create_task(c, json::object{{"type", "once"}});
  wait_until(
      [&] {
        return !read_file(d.dir() + "/twice.pid").empty() &&
               !read_file(d.dir() + "/once.pid").empty();
      },
      5s, "both scripts to start");
  CHECK(status_of(c, id_of(twice)) == "in_progress");
  CHECK(status_of(c, id_of(once)) == "in_progress");
  wait_durable(c, id_of(twice)); // else the kill could take the starts back
  wait_durable(c, id_of(once));

  d.kill9();
  // The scripts run in their own process groups and outlive taskd: end them here.
  for (const char* name : {"twice", "once"}) {
    pid_t pid = std::atoi(read_file(d.dir() + "/" + name + ".pid").c_str());
    if (pid > 0) ::kill(-pid, SIGKILL);
  }
  d.start();
  auto c2 = d.client();
  auto t = wait_terminal(c2, id_of(twice), 10s);
  CHECK(t.at("status") == "completed");
  CHECK(t.at("attempts") == 2);
  CHECK(t.at("result") == json::object{{"second", true}});
  auto a = wait_terminal(c2, id_of(once), 10s);
  CHECK(a.at("status") == "abandoned");
  CHECK(a.at("attempts") == 1);
  CHECK(std::string(a.at("error").as_string()).find("stalled") != std::string::npos);
}

// taskd bug: scheduler_actor.cpp's on_started fails a task whose type is no longer
// configured ("task type X is not configured"), but only sync-lane tasks ever get there:
// async tasks are dispatched from per-type lanes built from the config, so a task of a
// removed type stays pending forever (and keeps counting against limits.max_pending).
TEST_CASE("integration: tasks of a type removed from the config fail after a restart") {
  const std::string with_gone = R"(
[types.echo]
handler = "builtin:echo"

[types.gone]
handler = "builtin:echo"
max_attempts = 1
)";
  taskd_process d(config_with(with_gone));
  auto c = d.client();
  // Delayed so they are still pending at the stop.
  auto async_task = create_task(c, json::object{{"type", "gone"}, {"delay_ms", 300}});
  auto sync_task =
      create_task(c, json::object{{"type", "gone"}, {"delay_ms", 300}, {"mode", "sync"}});
  REQUIRE(d.terminate() == 0);
  write_file(d.dir() + "/taskd.toml", config_with("[types.echo]\nhandler = \"builtin:echo\"\n"));
  d.start();
  auto c2 = d.client();
  auto s = wait_terminal(c2, id_of(sync_task), 5s);
  CHECK(s.at("status") == "failed");
  CHECK(std::string(s.at("error").as_string()).find("not configured") != std::string::npos);
  auto a = wait_terminal(c2, id_of(async_task), 5s);
  CHECK(a.at("status") == "failed");
  CHECK(std::string(a.at("error").as_string()).find("not configured") != std::string::npos);
}

TEST_CASE("integration: SIGTERM past shutdown_grace_ms exits 0 and the cut attempt is retried") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.stubborn]
handler = "exec"
command = ["@DIR@/stubborn.sh"]
max_attempts = 2
timeout_ms = 60000
)",
                              "shutdown_grace_ms = 200\n");
  o.start = false;
  taskd_process d(o);
  std::string base = d.dir() + "/stubborn";
  write_file(d.dir() + "/stubborn.sh",
             "#!/bin/sh\n"
             "if [ -e " +
                 base +
                 ".ran ]; then echo '{\"second\": true}'; exit 0; fi\n"
                 "touch " +
                 base +
                 ".ran\n"
                 "echo $$ > " +
                 base + ".pid.tmp && mv " + base + ".pid.tmp " + base +
                 ".pid\n"
                 "exec sleep 30\n",
             true);
  d.start();
  auto c = d.client();
  auto t = create_task(c, json::object{{"type", "stubborn"}});
  wait_until([&] { return !read_file(base + ".pid").empty(); }, 5s, "the script to start");
  auto start = steady::now();
  CHECK(d.terminate(10s) == 0);
  // It waited for the grace period, not for the 30 s command.
  CHECK(elapsed_ms(start) >= 200);
  CHECK(elapsed_ms(start) < 5000);
  pid_t pid = std::atoi(read_file(base + ".pid").c_str());
  REQUIRE(pid > 0);
  // taskd killed the command's process group on its way out (kill(0) fails once it is
  // reaped by init; a zombie still counts as gone for our purpose, so also check /proc).
  wait_until(
      [&] {
        if (::kill(pid, 0) != 0) return true;
        std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
        return stat.find(") Z") != std::string::npos;
      },
      5s, "the cut command to be killed");
  d.start();
  auto c2 = d.client();
  auto done = wait_terminal(c2, id_of(t), 10s);
  CHECK(done.at("status") == "completed");
  CHECK(done.at("attempts") == 2);
  CHECK(done.at("result") == json::object{{"second", true}});
}
