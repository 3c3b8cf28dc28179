#include "src/core/create_request.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "src/core/clock.hpp"

namespace json = boost::json;

namespace taskd {

std::optional<std::int64_t> json_integer(const json::value& v) {
  if (auto* i = v.if_int64()) return *i;
  if (auto* u = v.if_uint64()) {
    if (*u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(*u);
  }
  if (auto* d = v.if_double()) {
    // Range first: converting a double outside int64's range is undefined behaviour.
    if (!(*d >= -9.2e18 && *d <= 9.2e18) || std::trunc(*d) != *d) return std::nullopt;
    return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

namespace {

constexpr std::int64_t max_delay_ms = 10LL * 365 * 24 * 3600 * 1000;

error bad(const std::string& prefix, const std::string& field, const std::string& what) {
  return make_error(errc::invalid_request, prefix + field + ": " + what);
}

std::optional<std::int64_t> as_int(const json::value& v) { return json_integer(v); }

result<std::int64_t> int_in(const json::value& v, const std::string& prefix, const char* field,
                            std::int64_t lo, std::int64_t hi) {
  auto i = as_int(v);
  if (!i || *i < lo || *i > hi)
    return bad(prefix, field,
               "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
  return *i;
}

result<backoff_policy> parse_backoff(const json::value& v, const std::string& prefix) {
  if (!v.is_object()) return bad(prefix, "backoff", "must be an object {\"type\", \"delay_ms\"}");
  backoff_policy p;
  for (auto& [key, val] : v.get_object()) {
    if (key == "type") {
      auto k = val.is_string() ? parse_backoff_kind(val.get_string()) : std::nullopt;
      if (!k) return bad(prefix, "backoff.type", "must be \"fixed\" or \"exponential\"");
      p.kind = *k;
    } else if (key == "delay_ms") {
      auto d = int_in(val, prefix, "backoff.delay_ms", 0, 86400000);
      if (!d) return d.err();
      p.delay_ms = *d;
    } else {
      return bad(prefix, "backoff." + std::string(key), "unknown field");
    }
  }
  return p;
}

result<task> parse_one(const json::value& body, const config& cfg, millis now,
                       const std::string& prefix) {
  if (!body.is_object())
    return make_error(errc::invalid_request,
                      (prefix.empty() ? std::string("body") : prefix.substr(0, prefix.size() - 1)) +
                          ": must be a JSON object");
  const auto& o = body.get_object();
  auto* type_v = o.if_contains("type");
  if (!type_v) return bad(prefix, "type", "is required");
  if (!type_v->is_string()) return bad(prefix, "type", "must be a string");
  std::string type(type_v->get_string());
  const type_config* tc = find_type(cfg, type);
  if (!tc) {
    return make_error(errc::unknown_type, prefix + "type: unknown task type \"" + type +
                                              "\"; known types: " + known_type_names(cfg));
  }
  task t;
  t.type = type;
  t.mode = tc->mode;
  t.max_attempts = tc->max_attempts;
  t.backoff = tc->backoff;
  t.timeout_ms = tc->timeout_ms;
  t.payload = json::object{};
  t.run_at = now;
  bool has_delay = false, has_run_at = false;
  for (auto& [key, v] : o) {
    if (key == "type") continue;
    if (key == "payload") {
      t.payload = v;
    } else if (key == "mode") {
      auto m = v.is_string() ? parse_task_mode(v.get_string()) : std::nullopt;
      if (!m) return bad(prefix, "mode", "must be \"async\" or \"sync\"");
      t.mode = *m;
    } else if (key == "priority") {
      auto p = int_in(v, prefix, "priority", -1000000, 1000000);
      if (!p) return p.err();
      t.priority = static_cast<std::int32_t>(*p);
    } else if (key == "delay_ms") {
      auto d = int_in(v, prefix, "delay_ms", 0, max_delay_ms);
      if (!d) return d.err();
      t.run_at = now + *d;
      has_delay = true;
    } else if (key == "run_at") {
      auto ms = v.is_string() ? parse_rfc3339(v.get_string()) : std::nullopt;
      if (!ms)
        return bad(prefix, "run_at", "must be an RFC3339 timestamp such as 2026-01-02T03:04:05Z");
      if (*ms > now + max_delay_ms) return bad(prefix, "run_at", "is too far in the future");
      t.run_at = std::max(now, *ms);
      has_run_at = true;
    } else if (key == "max_attempts") {
      auto m = int_in(v, prefix, "max_attempts", 1, 1000);
      if (!m) return m.err();
      t.max_attempts = static_cast<std::int32_t>(*m);
    } else if (key == "backoff") {
      auto b = parse_backoff(v, prefix);
      if (!b) return b.err();
      t.backoff = *b;
    } else if (key == "timeout_ms") {
      auto m = int_in(v, prefix, "timeout_ms", 1, 86400000);
      if (!m) return m.err();
      t.timeout_ms = *m;
    } else if (key == "idempotency_key") {
      if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 256)
        return bad(prefix, "idempotency_key", "must be a non-empty string of at most 256 bytes");
      t.idempotency_key = std::string(v.get_string());
    } else {
      return bad(prefix, std::string(key), "unknown field");
    }
  }
  if (has_delay && has_run_at) return bad(prefix, "delay_ms", "give delay_ms or run_at, not both");
  return t;
}

} // namespace

result<task> parse_create_request(const json::value& body, const config& cfg, millis now) {
  return parse_one(body, cfg, now, "");
}

result<std::vector<task>> parse_batch_request(const json::value& body, const config& cfg,
                                              millis now) {
  if (!body.is_object())
    return make_error(errc::invalid_request, "body: must be a JSON object {\"tasks\": [...]}");
  auto* arr = body.get_object().if_contains("tasks");
  if (!arr || !arr->is_array()) return make_error(errc::invalid_request, "tasks: must be an array");
  for (auto& [key, v] : body.get_object()) {
    (void)v;
    if (key != "tasks")
      return make_error(errc::invalid_request, std::string(key) + ": unknown field");
  }
  const auto& a = arr->get_array();
  if (a.empty()) return make_error(errc::invalid_request, "tasks: must not be empty");
  if (a.size() > cfg.limits.max_batch) {
    return make_error(errc::payload_too_large,
                      "tasks: at most " + std::to_string(cfg.limits.max_batch) +
                          " tasks per batch (limits.max_batch), got " + std::to_string(a.size()));
  }
  std::vector<task> out;
  out.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto t = parse_one(a[i], cfg, now, "tasks[" + std::to_string(i) + "].");
    if (!t) return t.err();
    out.push_back(std::move(*t));
  }
  return out;
}

} // namespace taskd
