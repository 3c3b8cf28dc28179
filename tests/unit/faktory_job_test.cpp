// Faktory jobs <-> tasks (src/core/faktory_job).

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "src/config/config.hpp"
#include "src/core/clock.hpp"
#include "src/core/faktory_job.hpp"

using namespace taskd;
namespace json = boost::json;

namespace {

config faktory_types() {
  auto c = parse_config(R"(
[types.Resize]
handler = "worker"
queue = "images"
[types.echo]
handler = "builtin:echo"
)");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.err().message));
  return *c;
}

} // namespace

TEST_CASE("faktory: a job becomes a task and comes back as the same job") {
  auto cfg = faktory_types();
  const millis now = 1700000000000;
  auto t = task_from_faktory_job(json::parse(R"({"jid":"abc","jobtype":"Resize","args":[1,"x"],
      "queue":"images","priority":9,"retry":2,"reserve_for":60,"custom":{"trace":"t1"},
      "at":"2023-11-14T22:13:25Z"})"),
                                 cfg, now);
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.err().message));
  CHECK(t->type == "Resize");
  CHECK(t->payload == json::array{1, "x"});
  CHECK(t->idempotency_key == "abc");
  CHECK(t->priority == 9);
  CHECK(t->max_attempts == 3);
  CHECK(t->run_at == 1700000005000);
  CHECK(faktory_reserve_ms(*t) == 60000);

  t->id = 7;
  t->created_at = now;
  t->attempts = 1;
  auto job = faktory_job_from_task(*t, cfg);
  CHECK(job.at("jid") == "abc");
  CHECK(job.at("jobtype") == "Resize");
  CHECK(job.at("args") == json::array{1, "x"});
  CHECK(job.at("queue") == "images");
  CHECK(job.at("priority") == 9);
  CHECK(job.at("retry") == 2);
  CHECK(job.at("reserve_for") == 60);
  CHECK(job.at("custom").at("trace") == "t1");
  CHECK(!job.contains("failure"));
}

TEST_CASE("faktory: defaults follow Faktory's") {
  auto cfg = faktory_types();
  auto t = task_from_faktory_job(json::parse(R"({"jid":"j","jobtype":"Resize"})"), cfg, 1000);
  REQUIRE(t.ok());
  CHECK(t->payload == json::array{});
  CHECK(t->priority == 5);
  CHECK(t->max_attempts == 26); // retry 25
  CHECK(faktory_reserve_ms(*t) == 1800000);
  auto no_retry =
      task_from_faktory_job(json::parse(R"({"jid":"j","jobtype":"Resize","retry":-1})"), cfg, 1000);
  REQUIRE(no_retry.ok());
  CHECK(no_retry->max_attempts == 1);
}

TEST_CASE("faktory: bad jobs are refused with the field at fault") {
  auto cfg = faktory_types();
  auto message = [&](const char* job) {
    auto r = task_from_faktory_job(json::parse(job), cfg, 1000);
    REQUIRE(!r.ok());
    return r.err().message;
  };
  CHECK(message("[]") == "the job must be a JSON object");
  CHECK(message(R"({"jobtype":"Resize"})").rfind("jid:", 0) == 0);
  CHECK(message(R"({"jid":"j"})").rfind("jobtype:", 0) == 0);
  CHECK(message(R"({"jid":"j","jobtype":"Nope"})") == "jobtype: unknown task type \"Nope\"");
  CHECK(message(R"({"jid":"j","jobtype":"echo"})").find("not served by workers") !=
        std::string::npos);
  CHECK(message(R"({"jid":"j","jobtype":"Resize","args":"x"})") == "args: must be an array");
  CHECK(message(R"({"jid":"j","jobtype":"Resize","priority":0})").rfind("priority:", 0) == 0);
  CHECK(message(R"({"jid":"j","jobtype":"Resize","at":"soon"})").rfind("at:", 0) == 0);
  CHECK(message(R"({"jid":"j","jobtype":"Resize","reserve_for":0})").rfind("reserve_for:", 0) == 0);
}

TEST_CASE("config: [faktory] and a worker type's queue") {
  auto c = parse_config(R"(
[faktory]
listen = "0.0.0.0:7419"
password = "pw"
allow_flush = true
[types.r]
handler = "worker"
queue = "critical"
)");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.err().message));
  REQUIRE(c->faktory);
  CHECK(c->faktory->port == 7419);
  CHECK(c->faktory->host == "0.0.0.0");
  CHECK(c->faktory->password == "pw");
  CHECK(c->faktory->allow_flush);
  CHECK(c->types.at("r").queue == "critical");
  auto bad = parse_config("[types.e]\nhandler = \"builtin:echo\"\nqueue = \"q\"\n");
  REQUIRE(!bad.ok());
  CHECK(bad.err().message.find("types.e.queue: only allowed with handler = \"worker\"") !=
        std::string::npos);
  CHECK(!parse_config("[types.e]\nhandler = \"worker\"\n").value().faktory);
}
