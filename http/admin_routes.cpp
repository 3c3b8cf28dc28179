#include <filesystem>

#include "http/routes.hpp"
#include "src/core/clock.hpp"
#include "src/logging/logging.hpp"

#include <spdlog/spdlog.h>

#ifndef TASKD_VERSION
#define TASKD_VERSION "0.0.0"
#endif

namespace taskd::http {

namespace {

constexpr millis oldest_pending_ttl_ms = 1000;

error unknown_type(std::string_view type) {
  return make_error(errc::not_found, "no task type \"" + std::string(type) + "\"");
}

json::value oldest_pending_at(const exchange& ex, const std::string& type, std::uint64_t pending) {
  auto since = oldest_due_pending_since(ex, type, pending);
  return since ? json::value(format_rfc3339(*since)) : json::value(nullptr);
}

json::object type_json(const exchange& ex, const type_config& tc, const counts_map& counts,
                       scheduler_stats& stats) {
  const std::string& name = tc.name;
  json::object counts_json;
  auto it = counts.find(name);
  for (int s = 0; s < task_status_count; ++s)
    counts_json[to_string(static_cast<task_status>(s))] = it == counts.end() ? 0 : it->second[s];
  auto completed = stats.completed_last_minute[name];
  json::object out{
      {"name", name},
      {"handler", to_string(tc.handler)},
      {"mode", to_string(tc.mode)},
      {"concurrency", tc.concurrency},
      {"max_attempts", tc.max_attempts},
      {"backoff", {{"type", to_string(tc.backoff.kind)}, {"delay_ms", tc.backoff.delay_ms}}},
      {"timeout_ms", tc.timeout_ms},
      {"max_pending", tc.max_pending ? json::value(*tc.max_pending) : json::value(nullptr)},
      {"running", stats.running_by_type[name]},
      {"counts", std::move(counts_json)},
      {"paused", stats.paused.count(name) > 0},
      {"oldest_pending_at",
       oldest_pending_at(
           ex, name, it == counts.end() ? 0 : it->second[static_cast<int>(task_status::pending)])},
      {"completed_last_minute", completed},
      {"throughput_per_s", static_cast<double>(completed) / 60.0}};
  if (tc.handler == handler_kind::worker) out["queue"] = tc.queue;
  return out;
}

/// Answers with the type's object, as GET /api/v1/types/{type} does.
void reply_type(const exchange& ex, std::string type) {
  ask<boxed<scheduler_stats>>(
      ex,
      [ex, type](boxed<scheduler_stats> stats) {
        const type_config* tc = find_type(*ex.ctx.cfg, type);
        if (!tc) return ex.fail(unknown_type(type));
        ex.json(200, type_json(ex, *tc, ex.ctx.db->counts(), *stats));
      },
      stats_atom::value);
}

/// Hands a bulk action to the scheduler; answers {"count": n} once every match is done.
void run_bulk(const exchange& ex, boxed<bulk_request> req) {
  ask<boxed<bulk_result>>(
      ex,
      [ex](boxed<bulk_result> r) {
        if (!*r) return ex.fail(r->err());
        ex.json(200, json::object{{"count", r->value()}});
      },
      bulk_atom::value, req);
}

std::uint64_t directory_bytes(const std::string& dir) {
  std::error_code ec;
  std::uint64_t total = 0;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      auto n = it->file_size(size_ec);
      if (!size_ec) total += n;
    }
  }
  return total;
}

} // namespace

// A cached "none" is not reused once more tasks are pending than when it was read: a task
// created into an empty type shows at once, not up to a second later.
std::optional<millis> oldest_due_pending_since(const exchange& ex, const std::string& type,
                                               std::uint64_t pending) {
  if (pending == 0) return std::nullopt;
  auto& cache = *ex.ctx.oldest_pending;
  millis now = now_ms();
  {
    std::lock_guard lock(cache.mu);
    auto it = cache.by_type.find(type);
    if (it != cache.by_type.end() && it->second.expires_at > now &&
        (it->second.since || it->second.pending >= pending))
      return it->second.since;
  }
  // The oldest pending tasks by id; among those already due, the one due the longest.
  // (A task delayed into the future is not waiting yet.)
  list_filter f;
  f.type = type;
  f.status = task_status::pending;
  f.limit = 64;
  std::optional<millis> since;
  auto page = ex.ctx.db->list(f);
  if (page)
    for (const auto& t : page->tasks)
      if (t.run_at <= now && (!since || t.run_at < *since)) since = t.run_at;
  std::lock_guard lock(cache.mu);
  cache.by_type[type] = {now + oldest_pending_ttl_ms, since, pending};
  return since;
}

std::uint64_t lag_of(const mirror_status& m, std::uint64_t head) {
  return head > m.cursor() ? head - m.cursor() : 0;
}

// GET /metrics: Prometheus text format; gauges sampled now from exact sources.
void prometheus_metrics(const exchange& ex) {
  if (!ex.ctx.stats) return ex.fail(make_error(errc::not_found, "metrics are not enabled"));
  ask<boxed<scheduler_stats>>(
      ex,
      [ex](boxed<scheduler_stats> stats) {
        gauge_sample s;
        for (auto& [type, c] : ex.ctx.db->counts()) s.counts[type] = c;
        s.running = stats->running_by_type;
        s.paused = stats->paused;
        millis now = now_ms();
        for (const auto& [type, c] : s.counts) {
          if (auto since =
                  oldest_due_pending_since(ex, type, c[static_cast<int>(task_status::pending)]))
            s.oldest_pending_age_s[type] = static_cast<double>(now - *since) / 1000.0;
        }
        s.subscribers = ex.ctx.subscribers ? ex.ctx.subscribers->load() : 0;
        s.head_seq = ex.ctx.db->head_seq();
        for (const auto& m : ex.ctx.mirrors)
          s.mirrors.push_back({m->sink(), lag_of(*m, s.head_seq), m->errors()});
        s.storage_bytes = directory_bytes(ex.ctx.cfg->server.data_dir);
        s.table_files = ex.ctx.db->table_files();
        ex.send(beast_http::status::ok, ex.ctx.stats->scrape(s),
                "text/plain; version=0.0.4; charset=utf-8");
      },
      stats_atom::value);
}

// GET /api/v1/types: each configured type, its settings, counts by status and live state.
void list_types(const exchange& ex) {
  ask<boxed<scheduler_stats>>(
      ex,
      [ex](boxed<scheduler_stats> stats) {
        auto counts = ex.ctx.db->counts();
        json::array types;
        for (const auto* tc : all_types(*ex.ctx.cfg))
          types.push_back(type_json(ex, *tc, counts, *stats));
        ex.json(200, json::object{{"types", std::move(types)}});
      },
      stats_atom::value);
}

void get_type(const exchange& ex, std::string_view type) {
  if (!find_type(*ex.ctx.cfg, type)) return ex.fail(unknown_type(type));
  reply_type(ex, std::string(type));
}

// POST /api/v1/types/{type}/pause | resume: durable; paused types admit but do not dispatch.
void set_type_paused(const exchange& ex, std::string_view type, bool paused) {
  if (!find_type(*ex.ctx.cfg, type)) return ex.fail(unknown_type(type));
  std::string name(type);
  ask<boxed<write_result>>(
      ex,
      [ex, name](boxed<write_result> r) {
        if (!*r) return ex.fail(r->err());
        reply_type(ex, name);
      },
      pause_atom::value, name, paused);
}

// POST /api/v1/types/{type}/retry-failed | cancel-pending: every matching task of the type.
void bulk_type_action(const exchange& ex, std::string_view type, bulk_action action) {
  if (!find_type(*ex.ctx.cfg, type)) return ex.fail(unknown_type(type));
  auto req = make_boxed<bulk_request>();
  req->action = action;
  req->type = std::string(type);
  run_bulk(ex, std::move(req));
}

// POST /api/v1/tasks/clean {"older_than_ms": N, "type"?: T}: deletes finished tasks that
// finished more than N ms ago.
void clean_tasks(const exchange& ex, const request& http_req) {
  auto body = parse_body(http_req);
  if (!body) return ex.fail(body.err());
  if (!body->is_object())
    return ex.fail(make_error(errc::invalid_request, "body must be a JSON object"));
  auto req = make_boxed<bulk_request>();
  req->action = bulk_action::clean;
  bool has_age = false;
  for (const auto& [key, v] : body->get_object()) {
    if (key == "older_than_ms") {
      if (!v.is_int64() || v.get_int64() < 0)
        return ex.fail(make_error(errc::invalid_request,
                                  "older_than_ms: must be a non-negative integer (milliseconds)"));
      req->older_than_ms = v.get_int64();
      has_age = true;
    } else if (key == "type") {
      if (!v.is_string() || v.get_string().empty())
        return ex.fail(make_error(errc::invalid_request, "type: must be a task type name"));
      req->type = std::string(v.get_string());
    } else {
      return ex.fail(make_error(errc::invalid_request, std::string(key) + ": unknown field"));
    }
  }
  if (!has_age) return ex.fail(make_error(errc::invalid_request, "older_than_ms: is required"));
  run_bulk(ex, std::move(req));
}

// GET /api/v1/admin/log-level -> {"level": "info"}
void get_log_level(const exchange& ex) { ex.json(200, json::object{{"level", log_level_name()}}); }

// PUT /api/v1/admin/log-level {"level": "debug"}: takes effect at once, until restart.
void put_log_level(const exchange& ex, const request& req) {
  auto body = parse_body(req);
  if (!body) return ex.fail(body.err());
  const json::value* level = body->is_object() ? body->get_object().if_contains("level") : nullptr;
  if (!level || !level->is_string() || !set_log_level(level->get_string()))
    return ex.fail(
        make_error(errc::invalid_request,
                   "level: must be one of trace, debug, info, warn, error, critical, off"));
  spdlog::warn("log level set to {} by request", log_level_name());
  get_log_level(ex);
}

// GET /api/v1/admin/info: the engine itself.
void admin_info(const exchange& ex) {
  millis now = now_ms();
  std::uint64_t head = ex.ctx.db->head_seq();
  json::array mirrors;
  for (const auto& m : ex.ctx.mirrors) {
    auto last_error = m->last_error();
    mirrors.push_back(json::object{
        {"sink", m->sink()},
        {"state", to_string(m->state())},
        {"cursor", m->cursor()},
        {"lag_events", lag_of(*m, head)},
        {"errors", m->errors()},
        {"last_error", last_error.empty() ? json::value(nullptr) : json::value(last_error)},
    });
  }
  ex.json(200, json::object{
                   {"version", TASKD_VERSION},
                   {"started_at", format_rfc3339(ex.ctx.started_at)},
                   {"uptime_s", (now - ex.ctx.started_at) / 1000},
                   {"data_dir", ex.ctx.cfg->server.data_dir},
                   {"disk_bytes", directory_bytes(ex.ctx.cfg->server.data_dir)},
                   {"head_seq", head},
                   {"oldest_seq", ex.ctx.db->oldest_seq()},
                   {"subscribers", ex.ctx.subscribers ? ex.ctx.subscribers->load() : 0},
                   {"event_backlog", ex.ctx.event_backlog ? ex.ctx.event_backlog->load() : 0},
                   {"mirrors", std::move(mirrors)},
               });
}

} // namespace taskd::http
