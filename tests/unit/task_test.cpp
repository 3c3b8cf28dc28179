#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "src/core/clock.hpp"
#include "src/core/task.hpp"
#include "storage/keys.hpp"

using namespace taskd;

namespace {
void check_json_matches(const task& t) {
  std::string direct;
  append_task_json(direct, t);
  CHECK(direct == boost::json::serialize(to_json(t)));
}

/// The storage encoding as a json::object serialized: what encode_task wrote before it
/// wrote directly, and must still write byte for byte.
std::string reference_encoding(const task& t) {
  namespace json = boost::json;
  json::object o;
  o.reserve(20);
  o["id"] = t.id;
  o["ty"] = t.type;
  o["p"] = t.payload;
  o["s"] = static_cast<int>(t.status);
  o["m"] = static_cast<int>(t.mode);
  o["pr"] = t.priority;
  o["a"] = t.attempts;
  o["ma"] = t.max_attempts;
  o["bk"] = static_cast<int>(t.backoff.kind);
  o["bd"] = t.backoff.delay_ms;
  o["to"] = t.timeout_ms;
  if (!t.result.is_null()) o["r"] = t.result;
  if (t.error) o["e"] = *t.error;
  o["ra"] = t.run_at;
  o["ca"] = t.created_at;
  o["ua"] = t.updated_at;
  if (t.started_at) o["sa"] = *t.started_at;
  if (t.finished_at) o["fa"] = *t.finished_at;
  if (t.idempotency_key) o["ik"] = *t.idempotency_key;
  if (!t.attempt_detail.is_null()) o["ad"] = t.attempt_detail;
  if (!t.log.empty()) o["lg"] = t.log;
  // Every field round-trips exactly: the store's writer keeps decoded-equal copies of
  // what it wrote (record_cache.hpp).
  if (!t.lease_token.empty()) o["lt"] = t.lease_token;
  if (t.lease_expires_at != 0) o["le"] = t.lease_expires_at;
  if (!t.worker.empty()) o["wk"] = t.worker;
  if (t.progress) o["pg"] = *t.progress;
  if (!t.meta.is_null()) o["mt"] = t.meta;
  if (!t.change_seqs.empty()) {
    json::array cs;
    cs.reserve(t.change_seqs.size());
    for (auto seq : t.change_seqs) cs.push_back(seq);
    o["cs"] = std::move(cs);
  }
  return json::serialize(o);
}

/// A task with every field set (no lease token).
task every_field_set() {
  task t;
  t.id = 123456789012ULL;
  t.type = "processVoice";
  t.payload = boost::json::parse(R"({"text":"hi","n":[1,2,3]})");
  t.status = task_status::failed;
  t.mode = task_mode::sync;
  t.priority = -5;
  t.attempts = 2;
  t.max_attempts = 4;
  t.backoff = {backoff_kind::fixed, 250};
  t.timeout_ms = 999;
  t.result = boost::json::parse(R"({"ok":true})");
  t.error = "exit code 1: nope";
  t.run_at = 1700000000123;
  t.created_at = 1700000000000;
  t.updated_at = 1700000000500;
  t.started_at = 1700000000200;
  t.finished_at = 1700000000400;
  t.idempotency_key = "k-1";
  t.attempt_detail = boost::json::parse(R"({"exit_code":1})");
  t.log = "[attempt 2] nope\n";
  t.worker = "w-1";
  t.lease_expires_at = 1700000000900; // kept without a token (the store's writer caches
                                      // records and must read back what it wrote)
  t.progress = 40;
  t.meta = boost::json::parse(R"({"queue":"q"})");
  t.change_seqs = {3, 9, 12};
  return t;
}

} // namespace

TEST_CASE("task: storage encoding round-trips every field") {
  task t = every_field_set();
  auto back = decode_task(encode_task(t));
  REQUIRE(back);
  CHECK(encode_task(*back) == encode_task(t));
  CHECK(back->payload == t.payload);
  CHECK(back->error == t.error);
  CHECK(back->started_at == t.started_at);
  CHECK(back->lease_expires_at == t.lease_expires_at);
  CHECK(back->lease_token.empty());
  CHECK(back->worker == t.worker);
  CHECK(back->progress == t.progress);
  CHECK(back->log == t.log);
  CHECK(back->change_seqs == t.change_seqs);
  CHECK(back->meta == t.meta);
  CHECK(back->attempt_detail == t.attempt_detail);
  t.lease_token = "tok";
  back = decode_task(encode_task(t));
  REQUIRE(back);
  CHECK(back->lease_token == "tok");
}

TEST_CASE("task: corrupt records decode to nothing") {
  CHECK(!decode_task(""));
  CHECK(!decode_task("{"));
  CHECK(!decode_task("[]"));
  CHECK(!decode_task(R"({"id":1})"));

  task t;
  t.id = 7;
  t.type = "email";
  const std::string good = encode_task(t);
  REQUIRE(decode_task(good));
  // Every required member: a record without it, or with it of the wrong type, is corrupt.
  for (const char* key :
       {"id", "ty", "s", "m", "pr", "a", "ma", "bk", "bd", "to", "ra", "ca", "ua"}) {
    CAPTURE(key);
    auto o = boost::json::parse(good).as_object();
    REQUIRE(o.contains(key));
    o.erase(key);
    CHECK(!decode_task(boost::json::serialize(o)));
    o[key] = key == std::string("ty") ? boost::json::value(1) : boost::json::value("x");
    CHECK(!decode_task(boost::json::serialize(o)));
  }
  auto o = boost::json::parse(good).as_object();
  o["s"] = task_status_count; // out of range
  CHECK(!decode_task(boost::json::serialize(o)));
  o = boost::json::parse(good).as_object();
  o["zz"] = "from a later version"; // unknown members are ignored
  auto back = decode_task(boost::json::serialize(o));
  REQUIRE(back);
  CHECK(encode_task(*back) == good);
}

TEST_CASE("task: API object has the contract's fields, absent values null") {
  task t;
  t.id = 1;
  t.type = "echo";
  t.created_at = t.updated_at = t.run_at = 0;
  auto o = to_json(t);
  for (const char* k :
       {"id", "type", "payload", "status", "mode", "priority", "attempts", "max_attempts", "result",
        "error", "run_at", "created_at", "updated_at", "started_at", "finished_at"})
    CHECK_MESSAGE(o.contains(k), k);
  CHECK(o["status"] == "pending");
  CHECK(o["started_at"].is_null());
  CHECK(o["created_at"] == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("clock: RFC3339 formats with milliseconds and parses offsets") {
  CHECK(format_rfc3339(1700000000123) == "2023-11-14T22:13:20.123Z");
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(951782400000) == "2000-02-29T00:00:00.000Z");
  CHECK(format_rfc3339(253402300799999) == "9999-12-31T23:59:59.999Z");
  CHECK(parse_rfc3339("2023-11-14T22:13:20.123Z") == 1700000000123);
  CHECK(parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000000);
  CHECK(parse_rfc3339("2023-11-14T23:13:20.5+01:00") == 1700000000500);
  CHECK(!parse_rfc3339("2023-11-14"));
  CHECK(!parse_rfc3339("2023-13-14T22:13:20Z"));
  CHECK(!parse_rfc3339("2023-11-14T22:13:20"));
  CHECK(!parse_rfc3339("2023-11-14T22:13:20Zjunk"));
  CHECK(!parse_rfc3339("2026-02-31T00:00:00Z")); // does not exist
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z"));  // leap day
}

TEST_CASE("keys: ready keys sort in dispatch order") {
  auto hi = keys::ready_key(task_mode::async, "t", 10, 5);
  auto lo_first = keys::ready_key(task_mode::async, "t", 0, 1);
  auto lo_second = keys::ready_key(task_mode::async, "t", 0, 2);
  auto neg = keys::ready_key(task_mode::async, "t", -3, 0);
  CHECK(hi < lo_first);
  CHECK(lo_first < lo_second);
  CHECK(lo_second < neg);
  CHECK(keys::priority_from_rank(keys::priority_rank(-7)) == -7);
  CHECK(keys::priority_from_rank(keys::priority_rank(INT32_MIN)) == INT32_MIN);
  // Lanes of different types never interleave.
  CHECK(keys::ready_key(task_mode::async, "a", -100, 9) <
        keys::ready_key(task_mode::async, "b", 100, 1));
  CHECK(keys::get_u64(keys::task_key(0x0102030405060708ULL)) == 0x0102030405060708ULL);
}

TEST_CASE("time: format_rfc3339 agrees with the C library across centuries") {
  // A fixed walk over 1900..2300 in uneven steps (hits every month, leap days, midnights).
  for (millis ms = -2208988800000; ms < 10413792000000; ms += 86400000LL * 13 + 3661007)
    REQUIRE(format_rfc3339(ms) == format_rfc3339_libc(ms));
}

TEST_CASE("task: append_task_json writes what serializing to_json writes") {
  task t;
  t.id = 18446744073709551615ULL;
  t.type = "quote\"back\\slash/ctl\x01\x0b\t\n\r\b\f\x7f-é";
  t.payload = boost::json::parse(R"({"text":"hi \u0001","n":[1,-2,3.5e300],"o":{"a":null}})");
  check_json_matches(t);
  t.status = task_status::completed;
  t.mode = task_mode::sync;
  t.priority = -2147483647 - 1;
  t.attempts = 3;
  t.max_attempts = 2147483647;
  t.backoff = {backoff_kind::fixed, 0};
  t.timeout_ms = 9007199254740993;
  t.result = boost::json::parse(R"([true,false,"x"])");
  t.error = std::string("exit code 1:\n\"bad\"");
  t.run_at = -1;
  t.created_at = 0;
  t.updated_at = 1700000000999;
  t.started_at = 1700000000001;
  t.finished_at = 1700000000002;
  t.idempotency_key = "k\u00e9y";
  t.worker = "w\t1";
  t.progress = 0;
  check_json_matches(t);
  t.payload = nullptr;
  t.result = 1.5;
  t.progress = -7;
  check_json_matches(t);
}

TEST_CASE("task: encode_task writes the bytes of the json::object encoding") {
  task t;
  t.id = 7;
  t.type = "a\"b";
  t.payload = boost::json::parse(R"({"x":[1,2.5,"\u0002"]})");
  CHECK(encode_task(t) == reference_encoding(t));
  t = every_field_set();
  t.type = "a\"b";
  t.error = "e\n";
  t.lease_token = "tok";
  t.change_seqs = {1, 2, 18446744073709551615ULL};
  t.run_at = -1;
  CHECK(encode_task(t) == reference_encoding(t));
  auto back = decode_task(encode_task(t));
  REQUIRE(back);
  CHECK(encode_task(*back) == encode_task(t));
}
