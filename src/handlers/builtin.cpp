#include "src/handlers/builtin.hpp"

#include "src/core/create_request.hpp"

#include <boost/json.hpp>

namespace taskd {

namespace {

std::optional<std::int64_t> int_field(const boost::json::value& payload, const char* key) {
  if (!payload.is_object()) return std::nullopt;
  auto* v = payload.get_object().if_contains(key);
  if (!v) return std::nullopt;
  // A fractional value counts as its integer part; one out of int64's range does not count.
  if (auto* d = v->if_double(); d && *d >= -9.2e18 && *d <= 9.2e18)
    return static_cast<std::int64_t>(*d);
  return json_integer(*v);
}

} // namespace

bool is_instant_builtin(handler_kind kind) {
  return kind == handler_kind::noop || kind == handler_kind::echo || kind == handler_kind::fail;
}

handler_outcome run_instant_builtin(handler_kind kind, const task& t) {
  handler_outcome out;
  switch (kind) {
  case handler_kind::noop: out.success = true; return out;
  case handler_kind::echo:
    out.success = true;
    out.result = t.payload;
    return out;
  case handler_kind::fail: {
    std::string message = "builtin:fail";
    if (t.payload.is_object())
      if (auto* m = t.payload.get_object().if_contains("message"); m && m->is_string())
        message = std::string(m->get_string());
    auto until = int_field(t.payload, "until_attempt");
    if (until && t.attempts >= *until) {
      out.success = true;
      out.result = boost::json::object{{"succeeded_on_attempt", t.attempts}};
      return out;
    }
    out.error = message;
    return out;
  }
  default: out.error = std::string("not an instant builtin: ") + to_string(kind); return out;
  }
}

millis sleep_duration(const task& t) {
  auto ms = int_field(t.payload, "ms");
  return ms && *ms > 0 ? *ms : 0;
}

} // namespace taskd
