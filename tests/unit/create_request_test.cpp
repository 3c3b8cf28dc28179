#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "src/core/admission.hpp"
#include "src/core/create_request.hpp"

using namespace taskd;

namespace {

result<task> parse(std::string_view body, millis now = 1000) {
  static const config cfg = default_config();
  return parse_create_request(boost::json::parse(body), cfg, now);
}

std::string error_of(std::string_view body) {
  auto r = parse(body);
  REQUIRE_MESSAGE(!r.ok(), body);
  return r.err().message;
}

} // namespace

TEST_CASE("create request: defaults come from the type's config") {
  auto t = parse(R"({"type":"echo","payload":{"x":1}})");
  REQUIRE(t.ok());
  const config defaults = default_config();
  const auto& cfg = *find_type(defaults, "echo");
  CHECK(t->type == "echo");
  CHECK(t->max_attempts == cfg.max_attempts);
  CHECK(t->timeout_ms == cfg.timeout_ms);
  CHECK(t->mode == cfg.mode);
  CHECK(t->run_at == 1000);
  CHECK(t->payload == boost::json::parse(R"({"x":1})"));
}

TEST_CASE("create request: every optional field is honoured") {
  auto t = parse(R"({"type":"echo","payload":[1],"mode":"sync","priority":7,"delay_ms":500,
    "max_attempts":9,"backoff":{"type":"fixed","delay_ms":20},"timeout_ms":77,
    "idempotency_key":"abc"})");
  REQUIRE(t.ok());
  CHECK(t->mode == task_mode::sync);
  CHECK(t->priority == 7);
  CHECK(t->run_at == 1500);
  CHECK(t->max_attempts == 9);
  CHECK(t->backoff.kind == backoff_kind::fixed);
  CHECK(t->backoff.delay_ms == 20);
  CHECK(t->timeout_ms == 77);
  CHECK(t->idempotency_key == "abc");
  auto r = parse(R"({"type":"echo","run_at":"1970-01-01T00:00:05Z"})");
  REQUIRE(r.ok());
  CHECK(r->run_at == 5000);
  auto past = parse(R"({"type":"echo","run_at":"1969-01-01T00:00:05Z"})");
  REQUIRE(past.ok());
  CHECK(past->run_at == 1000); // a past run_at means now
}

TEST_CASE("create request: bad input names the field") {
  CHECK(error_of(R"([1])").find("JSON object") != std::string::npos);
  CHECK(error_of(R"({})").find("type: is required") != std::string::npos);
  CHECK(error_of(R"({"type":3})").find("type: must be a string") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","priority":"high"})").find("priority") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","priority":1.5})").find("priority") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","mode":"later"})").find("mode") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","delay_ms":-1})").find("delay_ms") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","max_attempts":0})").find("max_attempts") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","backoff":{"type":"linear"}})").find("backoff.type") !=
        std::string::npos);
  CHECK(error_of(R"({"type":"echo","run_at":"tomorrow"})").find("run_at") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","delay_ms":1,"run_at":"1970-01-01T00:00:05Z"})")
            .find("not both") != std::string::npos);
  CHECK(error_of(R"({"type":"echo","colour":"red"})").find("colour: unknown field") !=
        std::string::npos);
  CHECK(error_of(R"({"type":"echo","idempotency_key":""})").find("idempotency_key") !=
        std::string::npos);
}

TEST_CASE("create request: unknown types list the known ones") {
  auto r = parse(R"({"type":"nope"})");
  REQUIRE(!r.ok());
  CHECK(r.err().code == errc::unknown_type);
  CHECK(r.err().message.find("echo") != std::string::npos);
  CHECK(r.err().message.find("processVoice") != std::string::npos);
}

TEST_CASE("create request: batches are all valid or refused with the index") {
  config cfg = default_config();
  cfg.limits.max_batch = 3;
  auto ok = parse_batch_request(
      boost::json::parse(R"({"tasks":[{"type":"echo"},{"type":"noop"}]})"), cfg, 1);
  REQUIRE(ok.ok());
  CHECK(ok->size() == 2);
  auto bad = parse_batch_request(boost::json::parse(R"({"tasks":[{"type":"echo"},{"type":"x"}]})"),
                                 cfg, 1);
  REQUIRE(!bad.ok());
  CHECK(bad.err().message.find("tasks[1].type") != std::string::npos);
  auto big = parse_batch_request(boost::json::parse(R"({"tasks":[{},{},{},{}]})"), cfg, 1);
  REQUIRE(!big.ok());
  CHECK(big.err().code == errc::payload_too_large);
  CHECK(parse_batch_request(boost::json::parse(R"({"tasks":[]})"), cfg, 1).err().code ==
        errc::invalid_request);
  CHECK(parse_batch_request(boost::json::parse(R"({"task":[]})"), cfg, 1).err().code ==
        errc::invalid_request);
}

TEST_CASE("admission: global and per-type bounds refuse all or nothing") {
  config cfg = default_config();
  cfg.limits.max_pending = 5;
  cfg.types["echo"].max_pending = 2;
  pending_ledger ledger(cfg);
  CHECK(ledger.admit({{"echo", 2}}).ok());
  auto refused = ledger.admit({{"echo", 1}});
  REQUIRE(!refused.ok());
  CHECK(refused.err().code == errc::too_many_pending);
  CHECK(refused.err().message.find("echo") != std::string::npos);
  CHECK(ledger.admit({{"noop", 3}}).ok());
  CHECK(ledger.total() == 5);
  CHECK(!ledger.admit({{"noop", 1}}).ok());
  CHECK(ledger.total() == 5); // nothing reserved by a refusal
  ledger.add("noop", -1);
  CHECK(ledger.admit({{"noop", 1}}).ok());
  CHECK(ledger.of("echo") == 2);
}

TEST_CASE("create request: numbers out of range are refused, never converted") {
  CHECK(json_integer(boost::json::parse("1e50")) == std::nullopt);
  CHECK(json_integer(boost::json::parse("-1e50")) == std::nullopt);
  CHECK(json_integer(boost::json::parse("18446744073709551615")) == std::nullopt);
  CHECK(json_integer(boost::json::parse("2.5")) == std::nullopt);
  CHECK(json_integer(boost::json::parse("3.0")) == 3);
  CHECK(json_integer(boost::json::parse("-7")) == -7);
  CHECK(json_integer(boost::json::parse("\"5\"")) == std::nullopt);
}
