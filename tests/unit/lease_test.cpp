// Leases of remote workers' tasks (src/core/lease) and the worker API's request checks.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "src/config/auto_types.hpp"
#include "src/config/config.hpp"
#include "src/core/lease.hpp"
#include "src/core/worker_request.hpp"

using namespace taskd;
namespace json = boost::json;

namespace {

task pending_task() {
  task t;
  t.id = 9;
  t.type = "render";
  t.max_attempts = 2;
  t.backoff = {backoff_kind::fixed, 100};
  return t;
}

config worker_config() {
  auto c = parse_config(
      "[types.render]\nhandler = \"worker\"\n[types.echo]\nhandler = \"builtin:echo\"\n");
  REQUIRE(c.ok());
  return *c;
}

} // namespace

TEST_CASE("lease: granting starts the attempt with a fresh token; only it reports") {
  task t = pending_task();
  auto token = new_lease_token();
  CHECK(token.size() == 32);
  CHECK(token != new_lease_token());
  REQUIRE(grant_lease(t, {token, "w1", 5000}, 1000).ok());
  CHECK(t.status == task_status::in_progress);
  CHECK(t.attempts == 1);
  CHECK(t.worker == "w1");
  CHECK(t.lease_expires_at == 6000);
  CHECK(check_lease(t, token).ok());
  CHECK(check_lease(t, "other").err().code == errc::lease_lost);
  CHECK(complete_leased(t, "other", 1, 2000).err().code == errc::lease_lost);
  CHECK(t.status == task_status::in_progress);

  REQUIRE(extend_lease(t, token, 40, 5000, 3000).ok());
  CHECK(t.lease_expires_at == 8000);
  CHECK(t.progress == 40);
  CHECK(expire_lease(t, token, 7999).err().code == errc::lease_lost); // extended: not yet

  REQUIRE(complete_leased(t, token, json::value("done"), 4000).ok());
  CHECK(t.status == task_status::completed);
  CHECK(t.lease_token.empty());
  CHECK(check_lease(t, token).err().code == errc::lease_lost); // the attempt ended
  CHECK(t.worker == "w1");                                     // who ran it stays visible
}

TEST_CASE("lease: an expired lease stalls the attempt: retried, then abandoned") {
  task t = pending_task();
  REQUIRE(grant_lease(t, {"a", "w1", 1000}, 0).ok());
  auto first = expire_lease(t, "a", 1000);
  REQUIRE(first.ok());
  CHECK(*first == attempt_end::retry_scheduled);
  CHECK(t.status == task_status::pending);
  CHECK(is_stall_error(*t.error));
  CHECK(t.error->find("lease of worker w1 expired") != std::string::npos);
  CHECK(t.lease_token.empty());
  REQUIRE(grant_lease(t, {"b", "w2", 1000}, 2000).ok());
  CHECK(fail_leased(t, "a", "late", true, 2500).err().code == errc::lease_lost);
  auto second = expire_lease(t, "b", 3000);
  REQUIRE(second.ok());
  CHECK(*second == attempt_end::failed);
  CHECK(t.status == task_status::abandoned);
}

TEST_CASE("lease: a failed attempt follows the type's retry policy; logs join the task log") {
  task t = pending_task();
  REQUIRE(grant_lease(t, {"a", "w", 1000}, 0).ok());
  REQUIRE(append_leased_log(t, "a", {"one", "two"}).ok());
  CHECK(t.log == "[attempt 1] one\n[attempt 1] two\n");
  auto r = fail_leased(t, "a", "boom", true, 10);
  REQUIRE(r.ok());
  CHECK(*r == attempt_end::retry_scheduled);
  CHECK(t.run_at == 110);
  REQUIRE(grant_lease(t, {"b", "w", 1000}, 200).ok());
  auto last = fail_leased(t, "b", "bad input", false, 210);
  REQUIRE(last.ok());
  CHECK(t.status == task_status::failed);
  CHECK(append_leased_log(t, "b", {"late"}).err().code == errc::lease_lost);
}

TEST_CASE("lease: the record keeps the lease across encode and decode") {
  task t = pending_task();
  REQUIRE(grant_lease(t, {"tok", "host-1:42", 1000}, 5).ok());
  t.progress = 7;
  auto back = decode_task(encode_task(t));
  REQUIRE(back);
  CHECK(back->lease_token == "tok");
  CHECK(back->worker == "host-1:42");
  CHECK(back->lease_expires_at == 1005);
  CHECK(back->progress == 7);
  auto api = to_json(t);
  CHECK(api.at("worker") == "host-1:42");
  CHECK(api.at("progress") == 7);
  CHECK(!api.contains("lease_token"));
}

TEST_CASE("worker API: lease requests are checked against the config") {
  auto cfg = worker_config();
  auto ok = parse_lease_request(
      json::parse(R"({"worker":"w","types":["render"],"max":10,"wait_ms":30000,"lease_ms":60000})"),
      cfg);
  REQUIRE(ok.ok());
  CHECK(ok->max == 10);
  CHECK(ok->wait_ms == 30000);
  auto defaults = parse_lease_request(json::parse(R"({"worker":"w","types":["render"]})"), cfg);
  REQUIRE(defaults.ok());
  CHECK(defaults->max == 1);
  CHECK(defaults->lease_ms == 60000);
  auto message = [&](const char* body) {
    auto r = parse_lease_request(json::parse(body), cfg);
    REQUIRE(!r.ok());
    return r.err().message;
  };
  CHECK(message(R"({"types":["render"]})").rfind("worker:", 0) == 0);
  CHECK(message(R"({"worker":"w","types":["echo"]})").find("not served by workers") !=
        std::string::npos);
  CHECK(message(R"({"worker":"w","types":["x"]})") == "types: unknown task type \"x\"");
  CHECK(message(R"({"worker":"w","types":["render"],"max":1001})").rfind("max:", 0) == 0);
  CHECK(message(R"({"worker":"w","types":["render"],"wait_ms":-1})").rfind("wait_ms:", 0) == 0);
  CHECK(message(R"({"worker":"w","types":["render"],"lease_ms":"10"})").rfind("lease_ms:", 0) == 0);
}

TEST_CASE("worker API: reports need a token and well-formed fields") {
  auto beat = parse_worker_call(worker_report::heartbeat, 3,
                                json::parse(R"({"token":"t","progress":55,"lease_ms":2000})"));
  REQUIRE(beat.ok());
  CHECK(beat->progress == 55);
  CHECK(beat->lease_ms == 2000);
  auto fail = parse_worker_call(worker_report::fail, 3,
                                json::parse(R"({"token":"t","error":"x","retryable":false})"));
  REQUIRE(fail.ok());
  CHECK(!fail->retryable);
  CHECK(!parse_worker_call(worker_report::complete, 3, json::parse(R"({"result":1})")).ok());
  CHECK(!parse_worker_call(worker_report::fail, 3, json::parse(R"({"token":"t"})")).ok());
  CHECK(
      !parse_worker_call(worker_report::log, 3, json::parse(R"({"token":"t","lines":[1]})")).ok());
  CHECK(
      !parse_worker_call(worker_report::heartbeat, 3, json::parse(R"({"token":"t","progress":-1})"))
           .ok());
  CHECK(!parse_worker_call(worker_report::heartbeat, 3, json::parse("[]")).ok());
}

TEST_CASE("config: worker types may be sync, and auto_types is a Faktory switch") {
  auto sync = parse_config("[types.r]\nhandler = \"worker\"\nmode = \"sync\"\n");
  REQUIRE(sync.ok());
  CHECK(sync->types.at("r").mode == task_mode::sync);
  auto fixed =
      parse_config("[types.r]\nhandler = \"worker\"\n[faktory]\nlisten = \"127.0.0.1:0\"\n");
  REQUIRE(fixed.ok());
  CHECK(!fixed->auto_types);
  CHECK(find_type(*fixed, "Thumb") == nullptr);
  auto open = parse_config("[types.r]\nhandler = \"worker\"\n[faktory]\nauto_types = true\n");
  REQUIRE(open.ok());
  REQUIRE(open->auto_types);
  const type_config* tc = open->auto_types->declare("Thumb", "media");
  REQUIRE(tc != nullptr);
  CHECK(find_type(*open, "Thumb") == tc);
  CHECK(tc->handler == handler_kind::worker);
  CHECK(tc->queue == "media");
  CHECK(open->auto_types->declare("Thumb", "other") == tc); // the first declaration stays
  CHECK(all_types(*open).size() == 2);                      // r, then Thumb
  auto bad = parse_config("[types.r]\nhandler = \"worker\"\n[faktory]\nauto_types = 1\n");
  REQUIRE(!bad.ok());
  CHECK(bad.err().message.find("faktory.auto_types: must be true or false") != std::string::npos);
}
