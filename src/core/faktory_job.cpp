#include "src/core/faktory_job.hpp"

#include <boost/json.hpp>

#include "src/config/auto_types.hpp"
#include "src/core/clock.hpp"
#include "src/core/create_request.hpp"

namespace taskd {

namespace json = boost::json;

namespace {

error bad(const std::string& message) { return make_error(errc::invalid_request, message); }

} // namespace

result<task> task_from_faktory_job(const json::value& job, const config& cfg, millis now) {
  if (!job.is_object()) return bad("the job must be a JSON object");
  const auto& o = job.get_object();
  auto* jid = o.if_contains("jid");
  if (!jid || !jid->is_string() || jid->get_string().empty() ||
      jid->get_string().size() > max_jid_bytes)
    return bad("jid: required, a string of 1.." + std::to_string(max_jid_bytes) + " bytes");
  auto* jobtype = o.if_contains("jobtype");
  if (!jobtype || !jobtype->is_string()) return bad("jobtype: required, a string");
  std::string_view type_name = jobtype->get_string();
  const type_config* tc = find_type(cfg, type_name);
  if (!tc && cfg.auto_types) {
    std::string_view queue = "default";
    if (auto* q = o.if_contains("queue"); q && q->is_string() && !q->get_string().empty())
      queue = q->get_string();
    if (!valid_queue_name(queue)) return bad("queue: must not contain spaces");
    if (!valid_type_name(type_name)) return bad("jobtype: must match [A-Za-z0-9_.-]{1,64}");
    tc = cfg.auto_types->declare(type_name, queue);
    if (!tc)
      return bad("jobtype: unknown, and " + std::to_string(auto_type_registry::max_types) +
                 " types are declared already (auto_types)");
  }
  if (!tc)
    return make_error(errc::unknown_type,
                      "jobtype: unknown task type \"" + std::string(jobtype->get_string()) + "\"");
  if (tc->handler != handler_kind::worker)
    return bad("jobtype: \"" + tc->name + "\" is not served by workers (handler " +
               to_string(tc->handler) + ")");
  auto* args = o.if_contains("args");
  if (args && !args->is_array()) return bad("args: must be an array");

  json::object create{{"type", tc->name},
                      {"payload", args ? *args : json::value(json::array())},
                      {"idempotency_key", *jid}};
  if (auto* p = o.if_contains("priority"); p && !p->is_null()) {
    auto v = json_integer(*p);
    if (!v || *v < 1 || *v > 9) return bad("priority: must be an integer 1..9");
    create["priority"] = *v;
  } else {
    create["priority"] = 5;
  }
  if (auto* at = o.if_contains("at");
      at && !at->is_null() && !(at->is_string() && at->get_string().empty())) {
    if (!at->is_string()) return bad("at: must be an RFC 3339 time");
    auto ms = parse_rfc3339(std::string(at->get_string()));
    if (!ms) return bad("at: must be an RFC 3339 time");
    if (*ms > now) create["run_at"] = *at;
  }
  std::int64_t retry = 25;
  if (auto* r = o.if_contains("retry"); r && !r->is_null()) {
    auto v = json_integer(*r);
    if (!v || *v > 999 || *v < -1000000) return bad("retry: must be an integer, at most 999");
    retry = *v;
  }
  create["max_attempts"] = retry < 0 ? 1 : retry + 1;
  std::int64_t reserve_for = default_reserve_ms / 1000;
  if (auto* rf = o.if_contains("reserve_for"); rf && !rf->is_null()) {
    auto v = json_integer(*rf);
    if (!v || *v < 1 || *v > 86400) return bad("reserve_for: must be 1..86400 seconds");
    reserve_for = *v;
  }
  auto t = parse_create_request(create, cfg, now);
  if (!t) return t.err();
  json::object meta{{"retry", retry}, {"reserve_for", reserve_for}};
  if (auto* q = o.if_contains("queue"); q && q->is_string()) meta["queue"] = *q;
  if (auto* custom = o.if_contains("custom"); custom && custom->is_object())
    meta["custom"] = *custom;
  t->meta = std::move(meta);
  return t;
}

millis faktory_reserve_ms(const task& t) {
  if (auto* m = t.meta.if_object())
    if (auto* rf = m->if_contains("reserve_for"))
      if (auto v = json_integer(*rf); v && *v > 0 && *v <= 86400) return *v * 1000;
  return default_reserve_ms;
}

std::string faktory_jid(const task& t) {
  return t.idempotency_key ? *t.idempotency_key : std::to_string(t.id);
}

json::object faktory_job_from_task(const task& t, const config& cfg) {
  json::object job{{"jid", faktory_jid(t)},
                   {"jobtype", t.type},
                   {"args", t.payload.is_array() ? t.payload : json::value(json::array{t.payload})},
                   {"priority", std::clamp<std::int32_t>(t.priority, 1, 9)},
                   {"created_at", format_rfc3339(t.created_at)},
                   {"enqueued_at", format_rfc3339(t.run_at)},
                   {"retry", t.max_attempts - 1},
                   {"reserve_for", faktory_reserve_ms(t) / 1000}};
  const type_config* tc = find_type(cfg, t.type);
  job["queue"] = tc ? tc->queue : "default";
  if (auto* m = t.meta.if_object())
    if (auto* custom = m->if_contains("custom")) job["custom"] = *custom;
  if (t.attempts > 1)
    job["failure"] =
        json::object{{"retry_count", t.attempts - 1}, {"message", t.error ? *t.error : ""}};
  return job;
}

} // namespace taskd
