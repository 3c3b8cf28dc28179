// How tasks run: retries and backoff, timeouts, per-type concurrency, the sync lane and
// its priority order, and admission backpressure.

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

struct run_event {
  long long ns = 0;
  bool start = false;
  json::value task; // the task object the script got on stdin (start events only)
};

// Lines "start <ns> <task json>" / "end <ns>" appended by the recording script.
std::vector<run_event> read_events(const std::string& path) {
  std::vector<run_event> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    run_event e;
    ls >> kind >> e.ns;
    e.start = kind == "start";
    if (e.start) {
      std::string rest;
      std::getline(ls, rest);
      boost::system::error_code ec;
      e.task = json::parse(rest, ec);
    }
    if (kind == "start" || kind == "end") out.push_back(std::move(e));
  }
  return out;
}

// Most runs in progress at once: a sweep over the start/end events (an end at the same
// instant as a start counts first, so back-to-back runs do not look parallel).
int max_overlap(std::vector<run_event> events) {
  std::sort(events.begin(), events.end(), [](const run_event& a, const run_event& b) {
    return a.ns != b.ns ? a.ns < b.ns : !a.start && b.start;
  });
  int now = 0, best = 0;
  for (auto& e : events) {
    now += e.start ? 1 : -1;
    best = std::max(best, now);
  }
  return best;
}

int count_starts(const std::vector<run_event>& events) {
  return static_cast<int>(
      std::count_if(events.begin(), events.end(), [](const run_event& e) { return e.start; }));
}

// A script that records when it runs (and which task it got) around a sleep.
std::string recording_script(const std::string& log, const std::string& sleep_s) {
  return "#!/bin/sh\n"
         "input=$(cat)\n"
         "echo \"start $(date +%s%N) $input\" >> " +
         log +
         "\n"
         "sleep " +
         sleep_s +
         "\n"
         "echo \"end $(date +%s%N)\" >> " +
         log +
         "\n"
         "echo '{\"ok\": true}'\n";
}

long long duration_ms(const json::object& t, const char* from, const char* to) {
  return rfc3339_ms(t.at(to)) - rfc3339_ms(t.at(from));
}

} // namespace

TEST_CASE("integration: failed attempts are retried with backoff and end failed") {
  taskd_process d(config_with(R"(
[types.flaky]
handler = "builtin:fail"
max_attempts = 3
backoff = { type = "fixed", delay_ms = 200 }

[types.flaky_exp]
handler = "builtin:fail"
max_attempts = 4
backoff = { type = "exponential", delay_ms = 100 }
)"));
  auto c = d.client();
  auto fixed = create_task(c, json::object{{"type", "flaky"}, {"payload", {{"message", "nope"}}}});
  auto exp = create_task(c, json::object{{"type", "flaky_exp"}});

  auto f = wait_terminal(c, id_of(fixed), 10s);
  CHECK(f.at("status") == "failed");
  CHECK(f.at("attempts") == 3);
  CHECK(f.at("error") == "nope");
  CHECK(f.at("result").is_null());
  // Two waits of 200 ms between three attempts.
  CHECK(duration_ms(f, "created_at", "finished_at") >= 2 * 200);
  CHECK(duration_ms(f, "created_at", "finished_at") < 5000);

  // Exponential: 100 + 200 + 400 ms between four attempts (fixed would be 300).
  auto e = wait_terminal(c, id_of(exp), 10s);
  CHECK(e.at("status") == "failed");
  CHECK(e.at("attempts") == 4);
  CHECK(e.at("error") == "builtin:fail");
  CHECK(duration_ms(e, "created_at", "finished_at") >= 700);
}

TEST_CASE("integration: until_attempt succeeds on that attempt") {
  taskd_process d(config_with(R"(
[types.flaky]
handler = "builtin:fail"
max_attempts = 3
backoff = { type = "fixed", delay_ms = 50 }
)"));
  auto c = d.client();
  auto second =
      create_task(c, json::object{{"type", "flaky"}, {"payload", {{"until_attempt", 2}}}});
  auto third = create_task(c, json::object{{"type", "flaky"}, {"payload", {{"until_attempt", 3}}}});
  auto never = create_task(c, json::object{{"type", "flaky"}, {"payload", {{"until_attempt", 4}}}});

  auto s = wait_terminal(c, id_of(second), 5s);
  CHECK(s.at("status") == "completed");
  CHECK(s.at("attempts") == 2);
  CHECK(s.at("result") == json::object{{"succeeded_on_attempt", 2}});
  CHECK(s.at("error").is_null()); // a success clears the earlier attempt's error
  auto t = wait_terminal(c, id_of(third), 5s);
  CHECK(t.at("status") == "completed");
  CHECK(t.at("attempts") == 3);
  auto n = wait_terminal(c, id_of(never), 5s);
  CHECK(n.at("status") == "failed");
  CHECK(n.at("attempts") == 3);
}

TEST_CASE("integration: attempts past timeout_ms fail, builtin:sleep and exec alike") {
  taskd_process d(config_with(R"(
[types.nap]
handler = "builtin:sleep"
max_attempts = 1
timeout_ms = 300

[types.slow_exec]
handler = "exec"
command = ["sleep", "5"]
max_attempts = 1
timeout_ms = 300
)"));
  auto c = d.client();
  auto start = steady::now();
  auto long_nap = create_task(c, json::object{{"type", "nap"}, {"payload", {{"ms", 5000}}}});
  auto short_nap = create_task(c, json::object{{"type", "nap"}, {"payload", {{"ms", 50}}}});
  auto exec = create_task(c, json::object{{"type", "slow_exec"}});

  auto ln = wait_terminal(c, id_of(long_nap), 5s);
  CHECK(ln.at("status") == "failed");
  CHECK(ln.at("attempts") == 1);
  CHECK(std::string(ln.at("error").as_string()).find("timed out") != std::string::npos);
  CHECK(duration_ms(ln, "started_at", "finished_at") >= 300);
  CHECK(duration_ms(ln, "started_at", "finished_at") < 2000);

  auto sn = wait_terminal(c, id_of(short_nap), 5s);
  CHECK(sn.at("status") == "completed");
  CHECK(sn.at("result") == json::object{{"slept_ms", 50}});
  CHECK(duration_ms(sn, "started_at", "finished_at") >= 50);

  auto ex = wait_terminal(c, id_of(exec), 5s);
  CHECK(ex.at("status") == "failed");
  CHECK(std::string(ex.at("error").as_string()).find("timed out") != std::string::npos);
  CHECK(duration_ms(ex, "started_at", "finished_at") >= 300);
  CHECK(duration_ms(ex, "started_at", "finished_at") < 2000);
  // The whole thing took far less than the 5 s sleeps: the child was killed.
  CHECK(elapsed_ms(start) < 4000);
}

// True while `pid` names a live (not zombie) process.
bool process_alive(long pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

TEST_CASE("integration: an exec timeout kills the command's whole process group") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.group]
handler = "exec"
command = ["@DIR@/group.sh"]
max_attempts = 1
timeout_ms = 300
)");
  o.start = false;
  taskd_process d(o);
  // The script leaves a background child behind and waits for it.
  write_file(d.dir() + "/group.sh",
             "#!/bin/sh\nsleep 30 &\necho $! > " + d.dir() + "/bg.pid\nwait\n", true);
  d.start();
  auto c = d.client();
  auto t = wait_terminal(c, id_of(create_task(c, json::object{{"type", "group"}})), 5s);
  CHECK(t.at("status") == "failed");
  CHECK(std::string(t.at("error").as_string()).find("timed out") != std::string::npos);
  long bg = std::atol(read_file(d.dir() + "/bg.pid").c_str());
  REQUIRE(bg > 0);
  bool gone = poll_until([&] { return !process_alive(bg); }, 3s);
  if (!gone) ::kill(static_cast<pid_t>(bg), SIGKILL); // do not leak it into other tests
  CHECK_MESSAGE(gone, "background child " << bg << " survived the timeout");
}

TEST_CASE("integration: per-type concurrency bounds parallel runs") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.worker]
handler = "exec"
command = ["@DIR@/work.sh"]
concurrency = 3
max_attempts = 1
timeout_ms = 10000
)");
  o.start = false;
  taskd_process d(o);
  std::string log = d.dir() + "/runs.log";
  write_file(d.dir() + "/work.sh", recording_script(log, "0.2"), true);
  d.start();
  auto c = d.client();
  json::array batch;
  for (int i = 0; i < 9; ++i) batch.push_back(json::object{{"type", "worker"}, {"payload", i}});
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());

  // While they run, the types endpoint never reports more than 3 running.
  int most_running = 0;
  wait_until(
      [&] {
        auto t = c.get("/api/v1/types");
        if (t.status == 200)
          most_running =
              std::max(most_running,
                       static_cast<int>(t.json.at("types").at(0).at("running").to_number<int>()));
        return t.status == 200 && t.json.at("types").at(0).at("counts").at("completed") == 9;
      },
      15s, "9 worker tasks to complete");
  CHECK(most_running <= 3);

  auto events = read_events(log);
  CHECK(count_starts(events) == 9);
  CHECK(events.size() == 18);
  int overlap = max_overlap(events);
  CHECK(overlap <= 3);
  CHECK(overlap >= 2); // it really ran in parallel
}

TEST_CASE("integration: sync tasks run one at a time across types") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.sync_a]
handler = "exec"
command = ["@DIR@/work.sh"]
mode = "sync"
concurrency = 8
max_attempts = 1

[types.sync_b]
handler = "exec"
command = ["@DIR@/work.sh"]
mode = "sync"
concurrency = 8
max_attempts = 1
)");
  o.start = false;
  taskd_process d(o);
  std::string log = d.dir() + "/runs.log";
  write_file(d.dir() + "/work.sh", recording_script(log, "0.1"), true);
  d.start();
  auto c = d.client();
  json::array batch;
  for (int i = 0; i < 3; ++i) {
    batch.push_back(json::object{{"type", "sync_a"}});
    batch.push_back(json::object{{"type", "sync_b"}});
  }
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  CHECK(r.json.at("tasks").at(0).at("mode") == "sync");
  for (auto& t : r.json.at("tasks").as_array())
    CHECK(wait_terminal(c, id_of(t), 10s).at("status") == "completed");
  auto events = read_events(log);
  CHECK(count_starts(events) == 6);
  CHECK(max_overlap(events) == 1);
}

TEST_CASE("integration: the sync lane has its own slot, outside the type's concurrency") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.both]
handler = "exec"
command = ["@DIR@/work.sh"]
concurrency = 1
max_attempts = 1
)");
  o.start = false;
  taskd_process d(o);
  std::string log = d.dir() + "/runs.log";
  write_file(d.dir() + "/work.sh", recording_script(log, "0.3"), true);
  d.start();
  auto c = d.client();
  // The type's only async slot is busy; a sync task of the same type still starts.
  auto busy = create_task(c, json::object{{"type", "both"}});
  wait_until([&] { return status_of(c, id_of(busy)) == "in_progress"; }, 5s,
             "the async task to start");
  auto lane = create_task(c, json::object{{"type", "both"}, {"mode", "sync"}});
  CHECK(wait_terminal(c, id_of(lane), 5s).at("status") == "completed");
  CHECK(wait_terminal(c, id_of(busy), 5s).at("status") == "completed");
  CHECK(max_overlap(read_events(log)) == 2);
}

TEST_CASE("integration: queued sync tasks run highest priority first, then FIFO") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.blocker]
handler = "exec"
command = ["@DIR@/block.sh"]
mode = "sync"
max_attempts = 1

[types.quick]
handler = "exec"
command = ["@DIR@/quick.sh"]
mode = "sync"
max_attempts = 1

[types.async_quick]
handler = "exec"
command = ["@DIR@/quick.sh"]
max_attempts = 1
)");
  o.start = false;
  taskd_process d(o);
  std::string log = d.dir() + "/runs.log";
  write_file(d.dir() + "/block.sh", recording_script(log, "0.3"), true);
  write_file(d.dir() + "/quick.sh", recording_script(log, "0"), true);
  d.start();
  auto c = d.client();
  auto blocker = create_task(c, json::object{{"type", "blocker"}});
  // Queue the rest only once the blocker holds the sync lane, so they all wait together.
  wait_until([&] { return status_of(c, id_of(blocker)) == "in_progress"; }, 5s,
             "the blocker to start");
  json::array batch;
  std::vector<int> priorities{1, 5, -3, 10, 5, 0};
  for (std::size_t i = 0; i < priorities.size(); ++i)
    batch.push_back(json::object{{"type", "quick"}, {"priority", priorities[i]}, {"payload", i}});
  // An async type's task asked to run in the sync lane joins the same queue.
  batch.push_back(
      json::object{{"type", "async_quick"}, {"mode", "sync"}, {"priority", 7}, {"payload", 6}});
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  for (auto& t : r.json.at("tasks").as_array())
    CHECK(wait_terminal(c, id_of(t), 10s).at("status") == "completed");
  CHECK(wait_terminal(c, id_of(blocker), 5s).at("status") == "completed");

  auto events = read_events(log);
  CHECK(max_overlap(events) == 1);
  std::vector<long long> order; // payloads in the order the tasks started
  for (auto& e : events)
    if (e.start && e.task.is_object() && e.task.at("type") != "blocker")
      order.push_back(e.task.at("payload").to_number<long long>());
  // 10, 7, 5 (created first), 5, 1, 0, -3
  CHECK(order == std::vector<long long>{3, 6, 1, 4, 0, 5, 2});
}

TEST_CASE("integration: queued async tasks of a type run highest priority first") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.lane]
handler = "exec"
command = ["@DIR@/lane.sh"]
concurrency = 1
max_attempts = 1
)");
  o.start = false;
  taskd_process d(o);
  std::string log = d.dir() + "/runs.log";
  // Payload "block" holds the type's only slot for 0.3 s; everything else is quick.
  write_file(d.dir() + "/lane.sh",
             "#!/bin/sh\ninput=$(cat)\necho \"start $(date +%s%N) $input\" >> " + log +
                 "\n"
                 "case \"$input\" in *'\"payload\":\"block\"'*) sleep 0.3 ;; esac\n"
                 "echo \"end $(date +%s%N)\" >> " +
                 log + "\n",
             true);
  d.start();
  auto c = d.client();
  auto blocker = create_task(c, json::object{{"type", "lane"}, {"payload", "block"}});
  wait_until([&] { return status_of(c, id_of(blocker)) == "in_progress"; }, 5s,
             "the blocker to start");
  json::array batch;
  std::vector<int> priorities{0, 2, -1, 9, 2};
  for (std::size_t i = 0; i < priorities.size(); ++i)
    batch.push_back(json::object{{"type", "lane"}, {"priority", priorities[i]}, {"payload", i}});
  auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
  REQUIRE_MESSAGE(r.status == 201, r.describe());
  for (auto& t : r.json.at("tasks").as_array())
    CHECK(wait_terminal(c, id_of(t), 10s).at("status") == "completed");
  auto events = read_events(log);
  CHECK(max_overlap(events) == 1);
  std::vector<long long> order;
  for (auto& e : events)
    if (e.start && e.task.is_object() && e.task.at("payload").is_number())
      order.push_back(e.task.at("payload").to_number<long long>());
  CHECK(order == std::vector<long long>{3, 1, 4, 0, 2});
}

TEST_CASE("integration: max_pending pushes back with 429 until the backlog drains") {
  taskd_process d(config_with(R"(
[types.slow]
handler = "builtin:sleep"
concurrency = 1
max_attempts = 1
)",
                              "max_pending = 3\n"));
  auto c = d.client();
  std::vector<std::uint64_t> ids;
  http_response refused;
  // One task runs (not pending) and three wait: the fifth create at the latest is refused.
  for (int i = 0; i < 10 && refused.status == 0; ++i) {
    auto r = c.post("/api/v1/tasks", json::object{{"type", "slow"}, {"payload", {{"ms", 150}}}});
    if (r.status == 201)
      ids.push_back(id_of(r.json));
    else
      refused = r;
  }
  REQUIRE_MESSAGE(refused.status == 429, refused.describe());
  CHECK(ids.size() >= 3);
  CHECK(ids.size() <= 4);
  CHECK(refused.json.at("error").at("code") == "too_many_pending");
  CHECK(!refused.header("retry-after").empty());
  CHECK(std::atoi(refused.header("retry-after").c_str()) >= 1);
  // A batch is admitted as a whole or not at all.
  auto batch = c.post("/api/v1/tasks/batch",
                      json::object{{"tasks", json::array{json::object{{"type", "slow"}},
                                                         json::object{{"type", "slow"}}}}});
  CHECK(batch.status == 429);

  // As the worker drains the backlog, creates are accepted again.
  http_response accepted;
  wait_until(
      [&] {
        accepted =
            c.post("/api/v1/tasks", json::object{{"type", "slow"}, {"payload", {{"ms", 10}}}});
        return accepted.status == 201;
      },
      5s, "a create to be accepted again", [&] { return accepted.describe(); });
  ids.push_back(id_of(accepted.json));
  for (auto id : ids) CHECK(wait_terminal(c, id, 10s).at("status") == "completed");
  // Nothing refused was written.
  CHECK(list_all(c).size() == ids.size());
}

TEST_CASE("integration: a type's max_pending bounds only that type") {
  taskd_process d(config_with(R"(
[types.limited]
handler = "builtin:noop"
max_pending = 2

[types.free]
handler = "builtin:noop"
)"));
  auto c = d.client();
  // Delayed tasks stay pending, so they count against the limit for the whole test.
  for (int i = 0; i < 2; ++i)
    create_task(c, json::object{{"type", "limited"}, {"delay_ms", 600000}});
  auto r = c.post("/api/v1/tasks", json::object{{"type", "limited"}, {"delay_ms", 600000}});
  CHECK_MESSAGE(r.status == 429, r.describe());
  CHECK(r.json.at("error").at("code") == "too_many_pending");
  CHECK(std::string(r.json.at("error").at("message").as_string()).find("limited") !=
        std::string::npos);
  CHECK(!r.header("retry-after").empty());
  for (int i = 0; i < 3; ++i) create_task(c, json::object{{"type", "free"}, {"delay_ms", 600000}});
  auto types = c.get("/api/v1/types");
  REQUIRE(types.status == 200);
  for (auto& t : types.json.at("types").as_array()) {
    if (t.at("name") == "limited") {
      CHECK(t.at("max_pending") == 2);
      CHECK(t.at("counts").at("pending") == 2);
    }
  }
  // The pending count is rebuilt from disk at start-up: still full after a restart.
  d.restart();
  auto c2 = d.client();
  auto after = c2.post("/api/v1/tasks", json::object{{"type", "limited"}});
  CHECK_MESSAGE(after.status == 429, after.describe());
  CHECK(c2.post("/api/v1/tasks", json::object{{"type", "free"}}).status == 201);
}

TEST_CASE("integration: more tasks than the in-memory dispatch window all run") {
  // The scheduler keeps at most 4096 ready / scheduled entries per lane in memory and
  // refills from disk; 5000 of each kind overflow both windows.
  taskd_process d(config_with(R"(
[types.many]
handler = "builtin:noop"
concurrency = 2

[types.later]
handler = "builtin:echo"
concurrency = 4
)"));
  auto c = d.client(60s);
  for (int b = 0; b < 5; ++b) {
    json::array now_batch, later_batch;
    for (int i = 0; i < 1000; ++i) {
      // Mixed priorities so new entries land both inside and past the window's end.
      now_batch.push_back(json::object{{"type", "many"}, {"priority", (i * 37) % 11 - 5}});
      later_batch.push_back(json::object{{"type", "later"}, {"delay_ms", 300 + (i % 7) * 50}});
    }
    auto r1 = c.post("/api/v1/tasks/batch", json::object{{"tasks", now_batch}});
    REQUIRE_MESSAGE(r1.status == 201, r1.describe());
    auto r2 = c.post("/api/v1/tasks/batch", json::object{{"tasks", later_batch}});
    REQUIRE_MESSAGE(r2.status == 201, r2.describe());
  }
  std::map<std::string, json::value> counts;
  wait_until(
      [&] {
        auto r = c.get("/api/v1/types");
        if (r.status != 200) return false;
        for (auto& t : r.json.at("types").as_array())
          counts[std::string(t.at("name").as_string())] = t.at("counts");
        return counts["many"].at("completed") == 5000 && counts["later"].at("completed") == 5000;
      },
      60s, "10000 tasks to complete",
      [&] { return json::serialize(counts["many"]) + " " + json::serialize(counts["later"]); });
  CHECK(counts["many"].at("pending") == 0);
  CHECK(counts["later"].at("pending") == 0);
}

TEST_CASE("integration: thousands of tasks due at one moment, overdue at a restart, all run") {
  // One run_at for all: they fall due together, past the schedule window's 4096 entries,
  // and taskd is down at that moment, so the restart finds them all overdue.
  taskd_process d(config_with(R"(
[types.due]
handler = "builtin:noop"
concurrency = 20
)"));
  auto c = d.client(60s);
  auto at = std::chrono::system_clock::now() + 1500ms;
  std::time_t secs = std::chrono::system_clock::to_time_t(at);
  char run_at[32];
  std::strftime(run_at, sizeof run_at, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&secs));
  constexpr int batches = 6;
  for (int b = 0; b < batches; ++b) {
    json::array batch;
    for (int i = 0; i < 1000; ++i)
      batch.push_back(json::object{{"type", "due"}, {"run_at", run_at}});
    auto r = c.post("/api/v1/tasks/batch", json::object{{"tasks", batch}});
    REQUIRE_MESSAGE(r.status == 201, r.describe());
  }
  REQUIRE(d.terminate() == 0);
  // Down until they are due (a clock, not a condition: nothing runs while taskd is down).
  std::this_thread::sleep_until(at + 200ms);
  d.start();
  auto c2 = d.client(60s);
  json::value counts;
  wait_until(
      [&] {
        auto r = c2.get("/api/v1/types");
        if (r.status != 200) return false;
        counts = r.json.at("types").as_array().at(0).at("counts");
        return counts.at("completed") == batches * 1000;
      },
      60s, "all due tasks to complete", [&] { return json::serialize(counts); });
  CHECK(counts.at("pending") == 0);
}

// taskd bug: admission (limits.max_pending) is checked before the idempotency lookup, so
// a client repeating an already accepted create (the reason idempotency keys exist: the
// first answer was lost) gets 429 while the queue is full, although nothing new would be
// created and the contract promises 200 with the existing task.
TEST_CASE("integration: a repeated idempotency key is not refused by backpressure") {
  taskd_process d(config_with("[types.later]\nhandler = \"builtin:noop\"\n", "max_pending = 2\n"));
  auto c = d.client();
  auto first = create_task(
      c, json::object{{"type", "later"}, {"delay_ms", 600000}, {"idempotency_key", "k"}});
  create_task(c, json::object{{"type", "later"}, {"delay_ms", 600000}});
  // Full: a new task is refused...
  CHECK(c.post("/api/v1/tasks", json::object{{"type", "later"}}).status == 429);
  // ...but the repeat of an accepted one only returns what exists.
  auto again =
      c.post("/api/v1/tasks",
             json::object{{"type", "later"}, {"delay_ms", 600000}, {"idempotency_key", "k"}});
  CHECK_MESSAGE(again.status == 200, again.describe());
  CHECK(id_of(again.json) == id_of(first));
}
