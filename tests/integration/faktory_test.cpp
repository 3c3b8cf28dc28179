// The Faktory listener at the protocol level: fencing of ACKs by the worker holding the
// lease, and bad input (garbage, oversized lines, bad JSON, unknown commands) answered
// with -ERR while the server stays up. The happy paths run with the real faktory-worker
// library in tests/faktory.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

std::string faktory_config(std::uint16_t port) {
  return config_with(R"(
[types.Resize]
handler = "worker"
)") +
         "[faktory]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n";
}

/// One Faktory connection past the handshake (HELLO with `wid`).
struct faktory_conn {
  raw_connection c;
  faktory_conn(std::uint16_t port, const std::string& wid) : c(port) {
    REQUIRE(c.connected());
    auto hi = c.read_until("\r\n", 5s);
    REQUIRE_MESSAGE(hi.rfind("+HI {\"v\":2}", 0) == 0, hi);
    CHECK(command("HELLO {\"hostname\":\"t\",\"v\":2,\"wid\":\"" + wid + "\"}") == "+OK");
  }
  /// Sends one command line; the reply's first line (a bulk reply: its payload line).
  std::string command(const std::string& line, ms timeout = 5s) {
    REQUIRE(c.send(line + "\r\n"));
    auto text = c.read_until("\r\n", timeout, ++replies + 1); // +1 for the greeting
    // The newest reply: what follows the previous replies.
    std::size_t pos = 0;
    for (int i = 0; i < replies; ++i) pos = text.find("\r\n", pos) + 2;
    auto line_end = text.find("\r\n", pos);
    std::string reply = text.substr(pos, line_end - pos);
    if (!reply.empty() && reply[0] == '$' && reply != "$-1") {
      replies += 1; // the payload is a line of its own
      auto payload = c.read_until("\r\n", timeout, replies + 1);
      std::size_t p2 = line_end + 2;
      reply = payload.substr(p2, payload.find("\r\n", p2) - p2);
    }
    return reply;
  }
  int replies = 0;
};

} // namespace

TEST_CASE("faktory: ACK and FAIL are fenced by the lease; a late ACK is refused") {
  auto port = free_port();
  taskd_process t(faktory_config(port));
  auto c = t.client();
  faktory_conn a(port, "worker-a");
  CHECK(a.command(R"(PUSH {"jid":"job-1","jobtype":"Resize","args":[1],"reserve_for":1})") ==
        "+OK");
  auto job = json::parse(a.command("FETCH default"));
  CHECK(job.at("jid") == "job-1");
  CHECK(job.at("args") == json::array{1});
  CHECK(job.at("reserve_for") == 1);
  // Another worker cannot ACK a job it does not hold.
  faktory_conn b(port, "worker-b");
  CHECK(b.command(R"(ACK {"jid":"job-1"})").rfind("-ERR lease_lost", 0) == 0);
  // worker-a's reservation (1 s) runs out: worker-b gets the job, worker-a's ACK is late.
  auto again = json::parse(b.command("FETCH default", 10s));
  CHECK(again.at("jid") == "job-1");
  CHECK(a.command(R"(ACK {"jid":"job-1"})").rfind("-ERR lease_lost", 0) == 0);
  CHECK(b.command(R"(ACK {"jid":"job-1"})") == "+OK");
  auto tasks = list_all(c, "type=Resize");
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].at("status") == "completed");
  CHECK(tasks[0].at("attempts") == 2);
  CHECK(tasks[0].at("worker") == "worker-b");
  CHECK(tasks[0].at("idempotency_key") == "job-1");
  // An empty queue: FETCH blocks about 2 s, then answers null.
  auto start = steady::now();
  CHECK(b.command("FETCH default") == "$-1");
  CHECK(elapsed_ms(start) >= 1500);
}

TEST_CASE("faktory: bad input gets -ERR and the server stays up") {
  auto port = free_port();
  taskd_process t(faktory_config(port));
  {
    faktory_conn f(port, "w");
    CHECK(f.command("NOPE").rfind("-ERR unknown command NOPE", 0) == 0);
    CHECK(f.command("PUSH {not json").rfind("-ERR invalid JSON", 0) == 0);
    CHECK(f.command(R"(PUSH {"jobtype":"Resize","args":[]})").rfind("-ERR jid:", 0) == 0);
    CHECK(f.command(R"(PUSH {"jid":"x","jobtype":"Nope","args":[]})").find("unknown task type") !=
          std::string::npos);
    CHECK(f.command(R"(PUSH {"jid":"x","jobtype":"Resize","args":{}})").rfind("-ERR args:", 0) ==
          0);
    CHECK(f.command(R"(PUSH {"jid":"x","jobtype":"Resize","args":[],"priority":42})")
              .rfind("-ERR priority:", 0) == 0);
    CHECK(f.command(R"(ACK {"nope":1})").rfind("-ERR ACK needs", 0) == 0);
    CHECK(f.command("FLUSH").rfind("-ERR FLUSH is disabled", 0) == 0);
    CHECK(f.command("BEAT {\"wid\":\"w\"}") == "+OK");
  }
  {
    raw_connection r(port);
    r.read_until("\r\n", 5s);
    REQUIRE(r.send("PUSH {\"jid\":\"x\"}\r\n"));
    CHECK(r.read_until("HELLO first", 5s).find("-ERR send HELLO first") != std::string::npos);
  }
  // Garbage bytes, and a line longer than the limit (server.max_body_bytes): the latter
  // gets an error and the connection is closed.
  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 7 + 3);
  raw_exchange(port, garbage + "\r\n", 1s);
  std::string huge(2 * 1048576, 'x');
  auto reply = raw_exchange(port, huge, 5s);
  CHECK(reply.find("-ERR line too long") != std::string::npos);
  // Still serving, on both ports.
  faktory_conn ok(port, "w2");
  CHECK(ok.command(R"(PUSH {"jid":"fine","jobtype":"Resize","args":[]})") == "+OK");
  CHECK(t.client().get("/healthz").status == 200);
}

TEST_CASE("faktory: auto_types declares an unknown jobtype on PUSH, and again after a restart") {
  auto port = free_port();
  taskd_process t(faktory_config(port) + "auto_types = true\n");
  auto c = t.client();
  {
    faktory_conn f(port, "w");
    CHECK(f.command(R"(PUSH {"jid":"t-1","jobtype":"Thumb","queue":"media","args":[1]})") == "+OK");
    CHECK(f.command(R"(PUSH {"jid":"t-2","jobtype":"bad name","args":[]})")
              .rfind("-ERR jobtype:", 0) == 0);
    auto type = c.get("/api/v1/types/Thumb");
    REQUIRE_MESSAGE(type.status == 200, type.describe());
    CHECK(type.json.at("handler") == "worker");
    CHECK(type.json.at("queue") == "media");
    auto job = json::parse(f.command("FETCH media"));
    CHECK(job.at("jid") == "t-1");
    CHECK(job.at("queue") == "media");
    CHECK(f.command(R"(ACK {"jid":"t-1"})") == "+OK");
    CHECK(f.command(R"(PUSH {"jid":"t-3","jobtype":"Thumb","queue":"media","args":[3]})") == "+OK");
  }
  // Declared types live in memory; a restart declares them again from the stored tasks.
  t.restart();
  faktory_conn f(port, "w");
  auto job = json::parse(f.command("FETCH media"));
  CHECK(job.at("jid") == "t-3");
  CHECK(f.command(R"(ACK {"jid":"t-3"})") == "+OK");
  auto tasks = list_all(c, "type=Thumb");
  REQUIRE(tasks.size() == 2);
  for (const auto& task : tasks) CHECK(task.at("status") == "completed");
}
