#include "src/core/worker_request.hpp"

#include <boost/json.hpp>

namespace taskd {

namespace json = boost::json;

namespace {

error bad(const std::string& message) { return make_error(errc::invalid_request, message); }

// An optional integer field in [lo, hi]; nullopt when absent, an error when wrong.
result<std::optional<std::int64_t>> int_field(const json::object& o, const char* key,
                                              std::int64_t lo, std::int64_t hi) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::int64_t>{};
  std::int64_t n = 0;
  if (auto* i = v->if_int64())
    n = *i;
  else if (auto* u = v->if_uint64(); u && *u <= static_cast<std::uint64_t>(hi))
    n = static_cast<std::int64_t>(*u);
  else
    return bad(std::string(key) + ": must be an integer between " + std::to_string(lo) + " and " +
               std::to_string(hi));
  if (n < lo || n > hi)
    return bad(std::string(key) + ": must be between " + std::to_string(lo) + " and " +
               std::to_string(hi) + ", got " + std::to_string(n));
  return std::optional<std::int64_t>{n};
}

result<const json::object*> object_body(const json::value& body) {
  if (!body.is_object()) return bad("the body must be a JSON object");
  return &body.get_object();
}

result<std::string> token_of(const json::object& o) {
  auto* t = o.if_contains("token");
  if (!t || !t->is_string() || t->get_string().empty())
    return bad("token: required, the lease token from POST /api/v1/workers/lease");
  return std::string(t->get_string());
}

} // namespace

result<lease_request> parse_lease_request(const json::value& body, const config& cfg) {
  auto o = object_body(body);
  if (!o) return o.err();
  lease_request req;
  auto* w = (*o)->if_contains("worker");
  if (!w || !w->is_string() || w->get_string().empty() ||
      w->get_string().size() > max_worker_id_bytes)
    return bad("worker: required, a non-empty string of at most " +
               std::to_string(max_worker_id_bytes) + " bytes naming the worker");
  req.worker = std::string(w->get_string());
  auto* types = (*o)->if_contains("types");
  if (!types || !types->is_array() || types->get_array().empty())
    return bad("types: required, a non-empty array of task types served by workers");
  for (const auto& t : types->get_array()) {
    if (!t.is_string()) return bad("types: must be strings");
    std::string name(t.get_string());
    const type_config* tc = find_type(cfg, name);
    if (!tc) return make_error(errc::unknown_type, "types: unknown task type \"" + name + "\"");
    if (tc->handler != handler_kind::worker)
      return bad("types: \"" + name + "\" is not served by workers (its handler is " +
                 to_string(tc->handler) + ")");
    req.types.push_back(std::move(name));
  }
  auto max = int_field(**o, "max", 1, static_cast<std::int64_t>(max_lease_tasks));
  if (!max) return max.err();
  if (*max) req.max = static_cast<std::size_t>(**max);
  auto wait = int_field(**o, "wait_ms", 0, max_lease_wait_ms);
  if (!wait) return wait.err();
  if (*wait) req.wait_ms = **wait;
  auto lease = int_field(**o, "lease_ms", min_lease_ms, max_lease_ms);
  if (!lease) return lease.err();
  if (*lease) req.lease_ms = **lease;
  return req;
}

result<worker_call> parse_worker_call(worker_report kind, task_id id, const json::value& body) {
  auto o = object_body(body);
  if (!o) return o.err();
  worker_call call;
  call.kind = kind;
  call.id = id;
  auto token = token_of(**o);
  if (!token) return token.err();
  call.token = std::move(*token);
  switch (kind) {
  case worker_report::heartbeat: {
    auto progress = int_field(**o, "progress", 0, 100);
    if (!progress) return progress.err();
    if (*progress) call.progress = static_cast<int>(**progress);
    auto lease = int_field(**o, "lease_ms", min_lease_ms, max_lease_ms);
    if (!lease) return lease.err();
    if (*lease) call.lease_ms = **lease;
    break;
  }
  case worker_report::complete:
    if (auto* r = (*o)->if_contains("result")) call.result = *r;
    break;
  case worker_report::fail: {
    auto* e = (*o)->if_contains("error");
    if (!e || !e->is_string() || e->get_string().size() > max_worker_error_bytes)
      return bad("error: required, a string of at most " + std::to_string(max_worker_error_bytes) +
                 " bytes");
    call.error = std::string(e->get_string());
    if (auto* r = (*o)->if_contains("retryable")) {
      if (!r->is_bool()) return bad("retryable: must be true or false");
      call.retryable = r->get_bool();
    }
    break;
  }
  case worker_report::log: {
    auto* lines = (*o)->if_contains("lines");
    if (!lines || !lines->is_array() || lines->get_array().size() > max_worker_log_lines)
      return bad("lines: required, an array of at most " + std::to_string(max_worker_log_lines) +
                 " strings");
    for (const auto& l : lines->get_array()) {
      if (!l.is_string()) return bad("lines: must be strings");
      call.lines.emplace_back(l.get_string());
    }
    break;
  }
  }
  return call;
}

} // namespace taskd
