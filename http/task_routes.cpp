#include <spdlog/spdlog.h>

#include "http/routes.hpp"
#include "src/core/attempts.hpp"
#include "src/core/clock.hpp"
#include "src/core/create_request.hpp"
#include "src/core/events.hpp"

namespace taskd::http {

namespace {

/// A batch create's answer body: `{"tasks": [...]}`, each task as it is now.
std::string batch_body(const std::vector<task_change>& changes) {
  return tasks_body("tasks", changes,
                    [](const task_change& ch) -> const task& { return ch.after; });
}

void reply_changes(const exchange& ex, const write_result& r, bool single) {
  if (!r) return ex.fail(r.err());
  const auto& changes = r.value();
  if (single) {
    const auto& ch = changes.front();
    return ex.task(ch.existed ? 200 : 201, ch.after);
  }
  ex.send(beast_http::status::created, batch_body(changes));
}

/// Admits the tasks and hands them to the store; the answer is built on this request's I/O
/// thread. A refusal by backpressure is counted per type.
void submit_create(const exchange& ex, std::vector<task> tasks, bool single) {
  std::map<std::string, std::uint64_t> by_type;
  if (ex.ctx.stats)
    for (const auto& t : tasks) by_type[t.type] += 1;
  create_call call;
  call.tasks = std::move(tasks);
  // A batch's answer (1,000 tasks: about 0.8 ms of JSON) is written while the batch syncs,
  // instead of after; on the same strand as the reply, so always before it runs.
  std::shared_ptr<std::string> prepared;
  if (!single) {
    prepared = std::make_shared<std::string>();
    call.prepare = [io = ex.respond.on_io, prepared](shared_write_result r) {
      io([prepared, r = std::move(r)] { *prepared = batch_body(**r); });
    };
  }
  // Called once: the captures move on to the I/O thread instead of being copied there.
  call.reply = [ex, single, by_type = std::move(by_type),
                prepared = std::move(prepared)](shared_write_result r) mutable {
    auto io = std::move(ex.respond.on_io); // the answer needs only respond.send
    io([ex = std::move(ex), single, by_type = std::move(by_type), r = std::move(r),
        prepared = std::move(prepared)] {
      if (!*r && r->err().code == errc::too_many_pending && ex.ctx.stats)
        for (const auto& [type, n] : by_type) ex.ctx.stats->admission_rejected(type, n);
      // Prepared from this very result, which is durable now.
      if (prepared && !prepared->empty() && r->ok())
        return ex.send(beast_http::status::created, std::move(*prepared));
      reply_changes(ex, *r, single);
    });
  };
  submit_create(*ex.ctx.creates, std::move(call));
}

/// The task, or nothing after answering 404 (or the read's error).
std::optional<task> find_task(const exchange& ex, task_id id) {
  auto t = ex.ctx.db->get(id);
  if (!t) {
    ex.fail(t.err());
    return std::nullopt;
  }
  if (!*t) ex.fail(make_error(errc::not_found, "task " + std::to_string(id) + " not found"));
  return std::move(*t);
}

/// Change-log entries a timeline reads at most (a task with more is pathological).
constexpr std::size_t max_timeline_entries = 10000;

/// An existing task's timeline, or nothing after answering 404 (or the read's error).
std::optional<std::vector<change_entry>> find_timeline(const exchange& ex, task_id id) {
  if (!find_task(ex, id)) return std::nullopt;
  auto changes = ex.ctx.db->task_changes(id, max_timeline_entries);
  if (!changes) {
    ex.fail(changes.err());
    return std::nullopt;
  }
  return std::move(*changes);
}

} // namespace

// POST /api/v1/tasks: create one task; 201 once durable, 200 for a repeated idempotency_key.
void create_task(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto t = parse_create_request(*body, *ex.ctx.cfg, now_ms());
  if (!t) return ex.fail(t.err());
  std::vector<task> tasks;
  tasks.push_back(std::move(*t));
  submit_create(ex, std::move(tasks), true);
}

// POST /api/v1/tasks/batch: create up to limits.max_batch tasks, all or nothing.
void create_batch(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto ts = parse_batch_request(*body, *ex.ctx.cfg, now_ms());
  if (!ts) return ex.fail(ts.err());
  submit_create(ex, std::move(*ts), false);
}

// GET /api/v1/tasks/{id}: the task, 404 if none.
void get_task(const exchange& ex, task_id id) {
  if (auto t = find_task(ex, id)) ex.task(200, *t);
}

// GET /api/v1/tasks?status=&type=&limit=&after=&order=: a page ordered by id (order=desc:
// newest first, `after` then bounds from above), from the indexes.
void list_tasks(const exchange& ex, std::string_view query) {
  list_filter f;
  for (auto& [key, value] : parse_query(query)) {
    if (key == "status") {
      if (value.empty()) continue;
      f.status = parse_task_status(value);
      if (!f.status)
        return ex.fail(make_error(errc::invalid_request,
                                  "status: unknown status \"" + value +
                                      "\"; one of pending, in_progress, completed, failed, "
                                      "abandoned, cancelled"));
    } else if (key == "type") {
      if (!value.empty()) f.type = value;
    } else if (key == "limit") {
      auto n = parse_id(value);
      if (!n || *n > 1000)
        return ex.fail(
            make_error(errc::invalid_request, "limit: must be an integer between 1 and 1000"));
      f.limit = *n;
    } else if (key == "after") {
      if (value.empty() || value == "0") continue;
      auto n = parse_id(value);
      if (!n) return ex.fail(make_error(errc::invalid_request, "after: must be a task id"));
      f.after = *n;
    } else if (key == "order") {
      if (value != "asc" && value != "desc" && !value.empty())
        return ex.fail(make_error(errc::invalid_request, "order: must be asc or desc"));
      f.descending = value == "desc";
    } else {
      return ex.fail(make_error(errc::invalid_request, key + ": unknown query parameter"));
    }
  }
  auto page = ex.ctx.db->list(f);
  if (!page) return ex.fail(page.err());
  std::string next = ",\"next_after\":";
  next += page->next_after ? std::to_string(*page->next_after) : "null";
  ex.tasks(
      200, "tasks", page->tasks, [](const task& t) -> const task& { return t; }, next);
}

namespace {

template <class Atom> void task_action(const exchange& ex, Atom atom, task_id id) {
  ask<boxed<write_result>>(
      ex,
      [ex](boxed<write_result> r) {
        if (!*r) return ex.fail(r->err());
        const auto& ch = r->value().front();
        if (ch.deleted) return ex.json(200, json::object{{"deleted", true}, {"id", ch.after.id}});
        ex.task(200, ch.after);
      },
      atom, id);
}

} // namespace

void post_cancel(const exchange& ex, task_id id) { task_action(ex, cancel_atom::value, id); }
void post_retry(const exchange& ex, task_id id) { task_action(ex, retry_atom::value, id); }
void post_promote(const exchange& ex, task_id id) { task_action(ex, promote_atom::value, id); }
void delete_task(const exchange& ex, task_id id) { task_action(ex, delete_atom::value, id); }

// GET /api/v1/tasks/{id}/events: the task's change-log entries, oldest first.
void task_timeline(const exchange& ex, task_id id) {
  auto changes = find_timeline(ex, id);
  if (!changes) return;
  json::array events;
  for (const auto& c : *changes) events.push_back(task_event_json(c.seq, c.deleted, c.t));
  ex.json(200, json::object{{"events", std::move(events)}});
}

// GET /api/v1/tasks/{id}/attempts: each attempt's start, end, outcome, error and handler
// detail, from the task's timeline (as far back as the change log holds).
void task_attempts(const exchange& ex, task_id id) {
  auto changes = find_timeline(ex, id);
  if (!changes) return;
  std::vector<task> states;
  for (auto& c : *changes) states.push_back(std::move(c.t));
  ex.json(200,
          json::object{{"task_id", id}, {"attempts", to_json(attempts_from_timeline(states))}});
}

// GET /api/v1/tasks/{id}/logs: the task's log lines (exec stderr, per attempt, bounded).
void task_logs(const exchange& ex, task_id id) {
  auto t = find_task(ex, id);
  if (!t) return;
  json::array lines;
  std::string_view log = t->log;
  while (!log.empty()) {
    auto nl = log.find('\n');
    lines.emplace_back(log.substr(0, nl));
    if (nl == std::string_view::npos) break;
    log.remove_prefix(nl + 1);
  }
  ex.json(200, json::object{{"task_id", id}, {"lines", std::move(lines)}});
}

} // namespace taskd::http
