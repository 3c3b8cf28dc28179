// The event stream's plain parts: subscription parsing and filters, message encoding,
// and the per-minute counter behind throughput.

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "src/core/events.hpp"
#include "src/core/minute_counter.hpp"

using namespace taskd;

TEST_CASE("events: subscribe messages parse, and every bad one names its field") {
  auto r = parse_subscribe(
      R"({"subscribe":{"types":["a","b"],"ids":[3],"statuses":["failed"]},"since":42})");
  REQUIRE(r.ok());
  CHECK(r->filter.types.size() == 2);
  CHECK(r->filter.ids.count(3) == 1);
  CHECK(r->filter.statuses.count(task_status::failed) == 1);
  CHECK(*r->since == 42);
  CHECK(parse_subscribe(R"({"subscribe":{}})").ok());
  CHECK(!parse_subscribe(R"({"since":0})")->since.value_or(1));
  struct bad_case {
    const char* text;
    const char* field;
  };
  for (auto [text, field] :
       {bad_case{"nope", "JSON"}, bad_case{"[]", "object"}, bad_case{R"({"since":-1})", "since"},
        bad_case{R"({"since":"1"})", "since"}, bad_case{R"({"subscribe":[]})", "subscribe"},
        bad_case{R"({"subscribe":{"types":"a"}})", "subscribe.types"},
        bad_case{R"({"subscribe":{"ids":[0]}})", "subscribe.ids"},
        bad_case{R"({"subscribe":{"statuses":["x"]}})", "subscribe.statuses"},
        bad_case{R"({"subscribe":{"colour":[]}})", "subscribe.colour"},
        bad_case{R"({"hello":1})", "hello"}}) {
    CAPTURE(text);
    auto e = parse_subscribe(text);
    REQUIRE(!e.ok());
    CHECK(e.err().code == errc::invalid_request);
    CHECK(e.err().message.find(field) != std::string::npos);
  }
}

TEST_CASE("events: filters match on type, id and status; empty sets match all") {
  task t;
  t.id = 7;
  t.type = "mail";
  t.status = task_status::completed;
  event_filter f;
  CHECK(matches(f, t));
  f.types = {"mail", "sms"};
  CHECK(matches(f, t));
  f.ids = {8};
  CHECK(!matches(f, t));
  f.ids = {7};
  f.statuses = {task_status::failed};
  CHECK(!matches(f, t));
  f.statuses.insert(task_status::completed);
  CHECK(matches(f, t));
  f.types = {"sms"};
  CHECK(!matches(f, t));
}

TEST_CASE("events: messages carry seq and the task, or the deleted id") {
  task t;
  t.id = 3;
  t.type = "x";
  auto v = boost::json::parse(encode_task_event(9, false, t));
  CHECK(v.at("seq") == 9);
  CHECK(v.at("event") == "task");
  CHECK(v.at("task").at("id") == 3);
  v = boost::json::parse(encode_task_event(10, true, t));
  CHECK(v.at("event") == "deleted");
  CHECK(v.at("id") == 3);
  v = boost::json::parse(encode_control_event("reset", 11));
  CHECK(v.at("event") == "reset");
  CHECK(v.at("seq") == 11);
}

TEST_CASE("minute counter: sums the last sixty seconds only") {
  minute_counter c;
  c.add(1000, 2);
  c.add(1500);
  c.add(30000, 4);
  CHECK(c.last_minute(30000) == 7);
  CHECK(c.last_minute(60999) == 7);
  CHECK(c.last_minute(61000) == 4); // second 1 left the window
  c.add(121000, 1);                 // reuses the bucket of second 1
  CHECK(c.last_minute(121000) == 1);
  CHECK(c.last_minute(200000) == 0);
}
