// The remote-worker API: lease (long-poll), heartbeat, complete, fail, log, and the list
// of workers. Validation is src/core/worker_request; leasing and fencing the scheduler's.

#include "http/routes.hpp"
#include "src/core/clock.hpp"
#include "src/core/worker_request.hpp"

namespace taskd::http {

namespace {

/// A long poll waits up to max_lease_wait_ms for the scheduler: ask with room above it.
constexpr auto lease_ask_timeout = std::chrono::milliseconds(max_lease_wait_ms + 10000);

json::object leased_task_json(const task& t) {
  json::object o = to_json(t);
  o["lease"] =
      json::object{{"token", t.lease_token}, {"expires_at", format_rfc3339(t.lease_expires_at)}};
  return o;
}

} // namespace

// POST /api/v1/workers/lease
void lease_tasks(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto lr = parse_lease_request(*body, *ex.ctx.cfg);
  if (!lr) return ex.fail(lr.err());
  ask_actor_within<boxed<lease_reply>>(
      ex, ex.ctx.scheduler, caf::duration(lease_ask_timeout),
      [ex](boxed<lease_reply> r) {
        if (!*r) return ex.fail(r->err());
        json::array tasks;
        for (const auto& t : r->value()) tasks.push_back(leased_task_json(t));
        ex.json(200, json::object{{"tasks", std::move(tasks)}});
      },
      lease_atom::value, make_boxed<lease_request>(std::move(*lr)));
}

// POST /api/v1/tasks/{id}/heartbeat|complete|fail|log
void worker_report_call(const exchange& ex, const request& req, task_id id, worker_report kind) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto call = parse_worker_call(kind, id, *body);
  if (!call) return ex.fail(call.err());
  ask<boxed<write_result>>(
      ex,
      [ex, kind](boxed<write_result> r) {
        if (!*r) return ex.fail(r->err());
        const task& t = r->value().front().after;
        json::object o = to_json(t);
        if (kind == worker_report::heartbeat)
          o["lease"] = json::object{{"expires_at", format_rfc3339(t.lease_expires_at)}};
        ex.json(200, o);
      },
      report_atom::value, make_boxed<worker_call>(std::move(*call)));
}

// GET /api/v1/workers
void list_workers(const exchange& ex) {
  ask<boxed<worker_list>>(
      ex,
      [ex](boxed<worker_list> list) {
        json::array out;
        for (const auto& w : *list) {
          json::array types;
          for (const auto& t : w.types) types.push_back(json::string(t));
          out.push_back(json::object{{"id", w.id},
                                     {"last_seen", format_rfc3339(w.last_seen)},
                                     {"types", std::move(types)},
                                     {"in_flight", w.in_flight}});
        }
        ex.json(200, json::object{{"workers", std::move(out)}});
      },
      workers_atom::value);
}

} // namespace taskd::http
