// parse_json: numbers come back exactly as written (Boost.JSON 1.81's parse is off by
// one unit in the last place for some 16-17 digit doubles).

#include <doctest/doctest.h>

#include <charconv>
#include <string>

#include <boost/json.hpp>

#include "src/core/json_parse.hpp"

using namespace taskd;

namespace {

double exact(const std::string& text) {
  double d = 0;
  std::from_chars(text.data(), text.data() + text.size(), d);
  return d;
}

} // namespace

TEST_CASE("json: doubles are parsed exactly, and survive a serialize and parse") {
  const char* samples[] = {
      "951946422.5811481",       "123456789012345.67",     "0.1",
      "2.2250738585072014e-308", "1.7976931348623157e308", "0.30000000000000004",
      "-4.940656458412465e-324", "3.141592653589793"};
  for (const char* s : samples) {
    boost::system::error_code ec;
    auto v = parse_json(std::string("[") + s + "]", ec);
    REQUIRE_MESSAGE(!ec, s);
    CHECK_MESSAGE(v.at(0).as_double() == exact(s), s);
    auto again = parse_json(boost::json::serialize(v), ec);
    REQUIRE(!ec);
    CHECK_MESSAGE(again.at(0).as_double() == exact(s), s);
  }
}

TEST_CASE("json: an underflowing number is its nearest double") {
  boost::system::error_code ec;
  auto v = parse_json("[1e-400, -2.5e-320]", ec);
  REQUIRE(!ec);
  CHECK(v.at(0).as_double() == 0.0);
  CHECK(v.at(1).as_double() == boost::json::parse("-2.5e-320").as_double());
}

TEST_CASE("json: everything else parses as Boost.JSON does; bad text is an error") {
  boost::system::error_code ec;
  auto v = parse_json(R"({"a":[1,-2,18446744073709551615,true,null,"x\u00e9"],"b":{}})", ec);
  REQUIRE(!ec);
  CHECK(v == boost::json::parse(R"({"a":[1,-2,18446744073709551615,true,null,"x\u00e9"],"b":{}})"));
  CHECK(v.at("a").at(0).is_int64());
  CHECK(v.at("a").at(2).is_uint64());
  for (const char* bad :
       {"{", "[1,]", "{\"a\":1} x", "nul", "", "1e999", "[-15532559262804e83754]"}) {
    boost::system::error_code e;
    parse_json(bad, e);
    CHECK_MESSAGE(e, bad);
  }
}
