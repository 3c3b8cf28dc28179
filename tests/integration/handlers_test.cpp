// The exec and webhook handlers through a real taskd, and the default config's example
// scripts run the way a user would run them.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

std::string error_text(const json::object& t) {
  auto& e = t.at("error");
  return e.is_string() ? std::string(e.as_string()) : "";
}

} // namespace

TEST_CASE("integration: exec passes the task on stdin and returns stdout as the result") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.json_out]
handler = "exec"
command = ["@DIR@/json.sh", "an arg"]
max_attempts = 1

[types.text_out]
handler = "exec"
command = ["@DIR@/text.sh"]
max_attempts = 1

[types.broken]
handler = "exec"
command = ["@DIR@/broken.sh"]
max_attempts = 2
backoff = { type = "fixed", delay_ms = 20 }

[types.missing]
handler = "exec"
command = ["@DIR@/does-not-exist"]
max_attempts = 1

[types.cat]
handler = "exec"
command = ["cat"]
max_attempts = 1
)");
  o.start = false;
  taskd_process d(o);
  // The script keeps its stdin and argv so the test can see what taskd handed over.
  write_file(d.dir() + "/json.sh",
             "#!/bin/sh\ncat > " + d.dir() +
                 "/stdin.json\n"
                 "printf '%s' \"$1\" > " +
                 d.dir() +
                 "/arg.txt\n"
                 "echo '{\"answer\": 42, \"items\": [1, \"two\"]}'\n",
             true);
  write_file(d.dir() + "/text.sh", "#!/bin/sh\necho '  plain words  '\n", true);
  write_file(d.dir() + "/broken.sh",
             "#!/bin/sh\necho 'some progress' \necho 'disk on fire' >&2\nexit 3\n", true);
  d.start();
  auto c = d.client();

  json::object payload{{"user", "ada"}, {"n", 1}};
  auto ok = create_task(c, json::object{{"type", "json_out"}, {"payload", payload}});
  auto done = wait_terminal(c, id_of(ok), 5s);
  CHECK(done.at("status") == "completed");
  CHECK(done.at("result") == json::parse(R"({"answer": 42, "items": [1, "two"]})"));
  boost::system::error_code ec;
  auto input = json::parse(read_file(d.dir() + "/stdin.json"), ec);
  REQUIRE_MESSAGE(!ec, read_file(d.dir() + "/stdin.json"));
  CHECK(id_of(input) == id_of(ok));
  CHECK(input.at("type") == "json_out");
  CHECK(input.at("payload") == payload);
  CHECK(input.at("attempts") == 1);
  CHECK(read_file(d.dir() + "/arg.txt") == "an arg"); // argv, no shell splitting

  auto text = wait_terminal(c, id_of(create_task(c, json::object{{"type", "text_out"}})), 5s);
  CHECK(text.at("status") == "completed");
  CHECK(text.at("result") == "plain words");

  auto broken = wait_terminal(c, id_of(create_task(c, json::object{{"type", "broken"}})), 5s);
  CHECK(broken.at("status") == "failed");
  CHECK(broken.at("attempts") == 2);
  CHECK(error_text(broken).find("exit code 3") != std::string::npos);
  CHECK(error_text(broken).find("disk on fire") != std::string::npos);
  CHECK(broken.at("result").is_null());

  auto missing = wait_terminal(c, id_of(create_task(c, json::object{{"type", "missing"}})), 5s);
  CHECK(missing.at("status") == "failed");
  CHECK(error_text(missing).find("does-not-exist") != std::string::npos);

  // A bare command name is found in PATH; ~300 KB each way through the pipes at once
  // (cat writes while taskd is still feeding it) must not deadlock.
  std::string big(300000, 'z');
  auto cat = create_task(c, json::object{{"type", "cat"}, {"payload", {{"blob", big}}}});
  auto cat_done = wait_terminal(c, id_of(cat), 10s);
  REQUIRE(cat_done.at("status") == "completed");
  CHECK(id_of(cat_done.at("result")) == id_of(cat));
  CHECK(cat_done.at("result").at("payload").at("blob") == json::value(big));
}

TEST_CASE("integration: the default config's example scripts work") {
  taskd_options o; // no config: the embedded default, run from the repository root
  o.cwd = TASKD_SOURCE_DIR;
  o.env = {{"TASKD_OUTBOX", "@DIR@/outbox.jsonl"}, {"TASKD_VOICE_DIR", "@DIR@/voice"}};
  taskd_process d(o);
  auto c = d.client();

  auto types = c.get("/api/v1/types");
  REQUIRE(types.status == 200);
  std::vector<std::string> names;
  for (auto& t : types.json.at("types").as_array()) names.emplace_back(t.at("name").as_string());
  CHECK(std::find(names.begin(), names.end(), "sendMessage") != names.end());
  CHECK(std::find(names.begin(), names.end(), "processVoice") != names.end());

  auto msg = create_task(c, json::object{{"type", "sendMessage"},
                                         {"payload", {{"to", "alice"}, {"body", "hi there"}}}});
  auto sent = wait_terminal(c, id_of(msg), 10s);
  REQUIRE_MESSAGE(sent.at("status") == "completed", json::serialize(sent));
  std::string outbox = d.dir() + "/outbox.jsonl";
  CHECK(sent.at("result") == json::object{{"delivered", true}, {"outbox", outbox}});
  std::istringstream lines(read_file(outbox));
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    auto entry = json::parse(line);
    CHECK(id_of(json::object{{"id", entry.at("task_id")}}) == id_of(msg));
    CHECK(entry.at("to") == "alice");
    CHECK(entry.at("body") == "hi there");
  }
  CHECK(count == 1);

  // Bad input fails with the script's reason (one attempt, so no 1 s backoff to wait).
  auto bad = create_task(c, json::object{{"type", "sendMessage"},
                                         {"max_attempts", 1},
                                         {"payload", {{"to", ""}, {"body", "x"}}}});
  auto bad_done = wait_terminal(c, id_of(bad), 10s);
  CHECK(bad_done.at("status") == "failed");
  CHECK(error_text(bad_done).find("payload.to must not be empty") != std::string::npos);

  // processVoice is a sync-mode type: it still answers 201 at once and runs in the lane.
  auto voice = create_task(
      c, json::object{{"type", "processVoice"}, {"payload", {{"text", "hello from taskd"}}}});
  CHECK(voice.at("mode") == "sync");
  auto spoken = wait_terminal(c, id_of(voice), 30s);
  REQUIRE_MESSAGE(spoken.at("status") == "completed", json::serialize(spoken));
  auto& result = spoken.at("result");
  std::string wav = d.dir() + "/voice/task-" + std::to_string(id_of(voice)) + ".wav";
  CHECK(result.at("file") == json::value(wav));
  CHECK(result.at("text") == "hello from taskd");
  CHECK(result.at("duration_s").to_number<double>() > 0.1);
  CHECK(std::filesystem::file_size(wav) > 1000);
}

TEST_CASE("integration: webhook outcomes map to completed, retried and failed") {
  test_http_server hook([](const recorded_request& req) {
    if (req.target == "/ok") return canned_response{200, R"({"accepted": true, "ref": "r-1"})"};
    if (req.target == "/down") return canned_response{500, R"({"error": "down"})"};
    if (req.target == "/text") return canned_response{201, "thanks", "text/plain"};
    if (req.target == "/slow") {
      // Slower than the type's timeout_ms; taskd must give up, not wait.
      std::this_thread::sleep_for(600ms);
      return canned_response{200, "{}"};
    }
    return canned_response{404, R"({"error": "no such hook"})"};
  });
  std::uint16_t closed_port = free_port(); // nothing listens there
  taskd_process d(config_with(R"(
[types.hook_ok]
handler = "webhook"
url = ")" + hook.url("/ok") + R"("
max_attempts = 3

[types.hook_text]
handler = "webhook"
url = ")" + hook.url("/text") +
                              R"("
max_attempts = 1

[types.hook_down]
handler = "webhook"
url = ")" + hook.url("/down") +
                              R"("
max_attempts = 3
backoff = { type = "fixed", delay_ms = 50 }

[types.hook_missing]
handler = "webhook"
url = ")" + hook.url("/missing") +
                              R"("
max_attempts = 3
backoff = { type = "fixed", delay_ms = 50 }

[types.hook_slow]
handler = "webhook"
url = ")" + hook.url("/slow") +
                              R"("
max_attempts = 1
timeout_ms = 200

[types.hook_refused]
handler = "webhook"
url = "http://127.0.0.1:)" + std::to_string(closed_port) +
                              R"(/x"
max_attempts = 2
backoff = { type = "fixed", delay_ms = 50 }
timeout_ms = 2000
)"));
  auto c = d.client();
  auto requests_to = [&](const std::string& target) {
    std::vector<recorded_request> out;
    for (auto& r : hook.requests())
      if (r.target == target) out.push_back(r);
    return out;
  };

  json::object payload{{"order", 17}};
  auto ok = create_task(c, json::object{{"type", "hook_ok"}, {"payload", payload}});
  auto ok_done = wait_terminal(c, id_of(ok), 10s);
  CHECK(ok_done.at("status") == "completed");
  CHECK(ok_done.at("attempts") == 1);
  CHECK(ok_done.at("result") == json::parse(R"({"accepted": true, "ref": "r-1"})"));
  auto seen = requests_to("/ok");
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].headers["content-type"].find("json") != std::string::npos);
  boost::system::error_code ec;
  auto sent = json::parse(seen[0].body, ec);
  REQUIRE_MESSAGE(!ec, seen[0].body);
  CHECK(id_of(sent) == id_of(ok));
  CHECK(sent.at("type") == "hook_ok");
  CHECK(sent.at("payload") == payload);

  auto text = wait_terminal(c, id_of(create_task(c, json::object{{"type", "hook_text"}})), 10s);
  CHECK(text.at("status") == "completed");
  CHECK(text.at("result") == "thanks");

  // 5xx: retried until max_attempts, then failed.
  auto down = wait_terminal(c, id_of(create_task(c, json::object{{"type", "hook_down"}})), 10s);
  CHECK(down.at("status") == "failed");
  CHECK(down.at("attempts") == 3);
  CHECK(error_text(down).find("500") != std::string::npos);
  CHECK(requests_to("/down").size() == 3);

  // 4xx: the receiver refused it; no further attempts.
  auto missing =
      wait_terminal(c, id_of(create_task(c, json::object{{"type", "hook_missing"}})), 10s);
  CHECK(missing.at("status") == "failed");
  CHECK(missing.at("attempts") == 1);
  CHECK(error_text(missing).find("404") != std::string::npos);
  CHECK(requests_to("/missing").size() == 1);

  // No answer within timeout_ms: a failed (retryable) attempt that ends at the deadline.
  auto slow = wait_terminal(c, id_of(create_task(c, json::object{{"type", "hook_slow"}})), 10s);
  CHECK(slow.at("status") == "failed");
  CHECK(error_text(slow).find("timed out") != std::string::npos);
  CHECK(rfc3339_ms(slow.at("finished_at")) - rfc3339_ms(slow.at("started_at")) < 550);

  // Connection refused: retried like a 5xx.
  auto refused =
      wait_terminal(c, id_of(create_task(c, json::object{{"type", "hook_refused"}})), 10s);
  CHECK(refused.at("status") == "failed");
  CHECK(refused.at("attempts") == 2);
  CHECK(!error_text(refused).empty());
}
