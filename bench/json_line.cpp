#include "bench/json_line.hpp"

#include <charconv>
#include <cmath>

#include <boost/json/serialize.hpp>

namespace bench {

namespace {

void append(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
  case boost::json::kind::object: {
    out += '{';
    bool first = true;
    for (auto& [k, x] : v.get_object()) {
      if (!first) out += ',';
      first = false;
      out += boost::json::serialize(boost::json::string(k)); // escapes
      out += ':';
      append(out, x);
    }
    out += '}';
    return;
  }
  case boost::json::kind::array: {
    out += '[';
    bool first = true;
    for (auto& x : v.get_array()) {
      if (!first) out += ',';
      first = false;
      append(out, x);
    }
    out += ']';
    return;
  }
  case boost::json::kind::double_: {
    double d = v.get_double();
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, ec == std::errc() ? end : buf);
    return;
  }
  default: out += boost::json::serialize(v); return;
  }
}

} // namespace

std::string to_line(const boost::json::value& v) {
  std::string out;
  append(out, v);
  return out;
}

} // namespace bench
