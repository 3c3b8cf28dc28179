#include <doctest/doctest.h>

#include <sstream>

#include <boost/beast/http/write.hpp>

#include "http/server.hpp"

using namespace taskd::http;

namespace {
std::string by_beast(response res) {
  std::ostringstream os;
  os << res;
  return os.str();
}

std::string serialize(response& res) { return serialize_head(res) + res.body(); }
} // namespace

TEST_CASE("http: a response serializes to the bytes Beast would write") {
  for (unsigned version : {10u, 11u})
    for (bool keep_alive : {true, false}) {
      response res{beast_http::status::created, version};
      res.set(beast_http::field::server, "taskd");
      res.set(beast_http::field::content_type, "application/json");
      res.set("X-Content-Type-Options", "nosniff");
      res.keep_alive(keep_alive);
      res.body() = R"({"id":1})";
      res.prepare_payload();
      auto expected = by_beast(res);
      CHECK(serialize(res) == expected);
    }
  auto err = error_response(11, true, "too_many_pending", 429, "full");
  err.set(beast_http::field::server, "taskd");
  auto expected = by_beast(err);
  CHECK(serialize(err) == expected);
  CHECK(expected.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0) == 0);
}

TEST_CASE("http: serialize adds the Server field once") {
  response res{beast_http::status::ok, 11};
  res.body() = "{}";
  res.prepare_payload();
  auto bytes = serialize(res);
  CHECK(bytes.find("Server: taskd\r\n") != std::string::npos);
  CHECK(serialize(res) == bytes);
}
