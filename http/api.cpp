#include "http/api.hpp"

#include <charconv>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "src/core/clock.hpp"
#include "src/core/create_request.hpp"

namespace json = boost::json;

namespace taskd::http {

int http_status(errc code) {
  switch (code) {
  case errc::invalid_json:
  case errc::invalid_request:
  case errc::unknown_type: return 400;
  case errc::not_found: return 404;
  case errc::method_not_allowed: return 405;
  case errc::conflict: return 409;
  case errc::payload_too_large: return 413;
  case errc::too_many_pending: return 429;
  case errc::shutting_down: return 503;
  case errc::storage_full: return 507;
  case errc::storage_error:
  case errc::internal: return 500;
  }
  return 500;
}

} // namespace taskd::http

namespace taskd {
extern const std::string_view ui_index_html;
}

namespace taskd::http {

namespace {

constexpr auto ask_timeout = std::chrono::seconds(60);

/// One request's context: what the handlers need to answer it.
struct exchange {
  const api_context& ctx;
  unsigned version;
  bool keep_alive;
  responder respond;

  void send(beast_http::status st, std::string body,
            const char* content_type = "application/json") const {
    response res{st, version};
    res.set(beast_http::field::content_type, content_type);
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    respond(std::move(res));
  }

  void json(int st, const json::value& v) const {
    send(static_cast<beast_http::status>(st), json::serialize(v));
  }

  void fail(const error& e) const {
    int st = http_status(e.code);
    auto res = error_response(version, keep_alive, errc_name(e.code), st, e.message);
    if (e.code == errc::too_many_pending) res.set(beast_http::field::retry_after, "1");
    if (st >= 500) spdlog::error("request failed: {}", e.message);
    respond(std::move(res));
  }
};

/// Asks the scheduler without blocking an I/O thread: a short-lived actor waits for the
/// reply and calls `then` on a CAF thread (which only posts the response back to Asio).
template <class Reply, class Then, class... Ts> void ask(const exchange& ex, Then then, Ts... msg) {
  auto target = ex.ctx.scheduler;
  ex.ctx.sys->spawn([=](caf::event_based_actor* self) {
    self->request(target, ask_timeout, msg...)
        .then([=](Reply r) { then(r); },
              [=](caf::error& e) {
                ex.fail(
                    make_error(errc::internal, "scheduler did not answer: " + caf::to_string(e)));
              });
  });
}

result<json::value> parse_body(const request& req) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec)
    return make_error(errc::invalid_json, std::string("body is not valid JSON: ") + ec.message());
  return v;
}

std::optional<task_id> parse_id(std::string_view s) {
  task_id id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id == 0) return std::nullopt;
  return id;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+')
      out.push_back(' ');
    else if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
      } else {
        out.push_back(s[i]);
      }
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    auto part = q.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty())
      out[url_decode(part.substr(0, eq))] =
          eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}

void reply_changes(const exchange& ex, const boxed<write_result>& r, bool single) {
  if (!*r) return ex.fail(r->err());
  const auto& changes = r->value();
  if (single) {
    const auto& ch = changes.front();
    return ex.json(ch.existed ? 200 : 201, to_json(ch.after));
  }
  json::array tasks;
  tasks.reserve(changes.size());
  for (const auto& ch : changes) tasks.push_back(to_json(ch.after));
  ex.json(201, json::object{{"tasks", std::move(tasks)}});
}

// POST /api/v1/tasks: create one task; 201 once durable, 200 for a repeated idempotency_key.
void create_task(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto t = parse_create_request(*body, *ex.ctx.cfg, now_ms());
  if (!t) return ex.fail(t.err());
  auto tasks = make_boxed<std::vector<task>>();
  tasks->push_back(std::move(*t));
  ask<boxed<write_result>>(
      ex, [ex](boxed<write_result> r) { reply_changes(ex, r, true); }, create_atom::value, tasks);
}

// POST /api/v1/tasks/batch: create up to limits.max_batch tasks, all or nothing.
void create_batch(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  auto ts = parse_batch_request(*body, *ex.ctx.cfg, now_ms());
  if (!ts) return ex.fail(ts.err());
  auto tasks = make_boxed<std::vector<task>>(std::move(*ts));
  ask<boxed<write_result>>(
      ex, [ex](boxed<write_result> r) { reply_changes(ex, r, false); }, create_atom::value, tasks);
}

// GET /api/v1/tasks/{id}: the task, 404 if none.
void get_task(const exchange& ex, task_id id) {
  auto t = ex.ctx.db->get(id);
  if (!t) return ex.fail(t.err());
  if (!*t) return ex.fail(make_error(errc::not_found, "task " + std::to_string(id) + " not found"));
  ex.json(200, to_json(**t));
}

// GET /api/v1/tasks?status=&type=&limit=&after=: a page ordered by id, from the indexes.
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
    } else {
      return ex.fail(make_error(errc::invalid_request, key + ": unknown query parameter"));
    }
  }
  auto page = ex.ctx.db->list(f);
  if (!page) return ex.fail(page.err());
  json::array tasks;
  tasks.reserve(page->tasks.size());
  for (const auto& t : page->tasks) tasks.push_back(to_json(t));
  json::value next = nullptr;
  if (page->next_after) next = *page->next_after;
  ex.json(200, json::object{{"tasks", std::move(tasks)}, {"next_after", next}});
}

// GET /api/v1/types: each configured type, its settings and counts by status.
void list_types(const exchange& ex) {
  auto counts = ex.ctx.db->counts();
  ask<boxed<scheduler_stats>>(
      ex,
      [ex, counts](boxed<scheduler_stats> stats) {
        json::array types;
        for (const auto& [name, tc] : ex.ctx.cfg->types) {
          json::object counts_json;
          auto it = counts.find(name);
          for (int s = 0; s < task_status_count; ++s)
            counts_json[to_string(static_cast<task_status>(s))] =
                it == counts.end() ? 0 : it->second[s];
          json::object t{
              {"name", name},
              {"handler", to_string(tc.handler)},
              {"mode", to_string(tc.mode)},
              {"concurrency", tc.concurrency},
              {"max_attempts", tc.max_attempts},
              {"backoff",
               {{"type", to_string(tc.backoff.kind)}, {"delay_ms", tc.backoff.delay_ms}}},
              {"timeout_ms", tc.timeout_ms},
              {"max_pending", tc.max_pending ? json::value(*tc.max_pending) : json::value(nullptr)},
              {"running", stats->running_by_type[name]},
              {"counts", std::move(counts_json)}};
          types.push_back(std::move(t));
        }
        ex.json(200, json::object{{"types", std::move(types)}});
      },
      stats_atom::value);
}

template <class Atom> void task_action(const exchange& ex, Atom atom, task_id id) {
  ask<boxed<write_result>>(
      ex,
      [ex](boxed<write_result> r) {
        if (!*r) return ex.fail(r->err());
        const auto& ch = r->value().front();
        if (ch.deleted) return ex.json(200, json::object{{"deleted", true}, {"id", ch.after.id}});
        ex.json(200, to_json(ch.after));
      },
      atom, id);
}

void route(const exchange& ex, const request& req) {
  using verb = beast_http::verb;
  std::string_view target(req.target().data(), req.target().size());
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  std::string_view query =
      qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  auto parts = split_path(path);
  auto method = req.method();
  auto not_allowed = [&] {
    ex.fail(make_error(errc::method_not_allowed, std::string(req.method_string()) +
                                                     " is not allowed on " + std::string(path)));
  };

  // GET / : the UI page.
  if (parts.empty()) {
    if (method != verb::get && method != verb::head) return not_allowed();
    return ex.send(beast_http::status::ok, std::string(ui_index_html), "text/html; charset=utf-8");
  }
  // GET /healthz: the process is up.
  if (parts.size() == 1 && parts[0] == "healthz") {
    if (method != verb::get && method != verb::head) return not_allowed();
    return ex.json(200, json::object{{"status", "ok"}});
  }
  // GET /readyz: store open and recovery done.
  if (parts.size() == 1 && parts[0] == "readyz") {
    if (method != verb::get && method != verb::head) return not_allowed();
    bool ready = ex.ctx.ready && ex.ctx.ready->load();
    return ex.json(ready ? 200 : 503, json::object{{"ready", ready}});
  }
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1")
    return ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));

  if (parts[2] == "types" && parts.size() == 3) {
    if (method != verb::get) return not_allowed();
    return list_types(ex);
  }
  if (parts[2] != "tasks")
    return ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));
  if (parts.size() == 3) {
    if (method == verb::post) return create_task(ex, req);
    if (method == verb::get) return list_tasks(ex, query);
    return not_allowed();
  }
  if (parts.size() == 4 && parts[3] == "batch") {
    if (method != verb::post) return not_allowed();
    return create_batch(ex, req);
  }
  auto id = parse_id(parts[3]);
  if (!id) return ex.fail(make_error(errc::not_found, "no task " + std::string(parts[3])));
  if (parts.size() == 4) {
    if (method == verb::get) return get_task(ex, *id);
    if (method == verb::delete_) return task_action(ex, delete_atom::value, *id);
    return not_allowed();
  }
  if (parts.size() == 5 && (parts[4] == "retry" || parts[4] == "cancel")) {
    if (method != verb::post) return not_allowed();
    if (parts[4] == "retry") return task_action(ex, retry_atom::value, *id);
    return task_action(ex, cancel_atom::value, *id);
  }
  ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));
}

} // namespace

void handle_request(const api_context& ctx, request&& req, responder respond) {
  exchange ex{ctx, req.version(), req.keep_alive(), std::move(respond)};
  try {
    route(ex, req);
  } catch (const std::exception& e) {
    // The Beast boundary: the only place exceptions are caught.
    ex.fail(make_error(errc::internal, e.what()));
  }
}

} // namespace taskd::http
