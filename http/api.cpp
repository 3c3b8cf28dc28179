#include "http/api.hpp"

#include <cmath>
#include <functional>
#include <map>

#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include "http/event_socket.hpp"
#include "http/auth.hpp"
#include "http/routes.hpp"
#include "http/ui_assets.hpp"
#include "src/logging/logging.hpp"

namespace taskd::http {

int http_status(errc code) {
  switch (code) {
  case errc::invalid_json:
  case errc::invalid_request:
  case errc::unknown_type: return 400;
  case errc::not_found: return 404;
  case errc::method_not_allowed: return 405;
  case errc::unauthorized: return 401;
  case errc::forbidden: return 403;
  case errc::conflict: return 409;
  case errc::lease_lost: return 409;
  case errc::payload_too_large: return 413;
  case errc::too_many_pending: return 429;
  case errc::shutting_down:
  case errc::unavailable: return 503;
  case errc::storage_full: return 507;
  case errc::storage_error:
  case errc::internal: return 500;
  }
  return 500;
}

namespace {

/// A path segment with %XX escapes decoded (type names are plain, but clients escape).
std::string url_path_segment(std::string_view s) {
  auto q = parse_query(std::string("x=") + std::string(s));
  return q["x"];
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

  // GET / and /admin: the UI page (it routes itself); /assets/*: its scripts and styles.
  if (parts.empty() || (parts.size() == 1 && parts[0] == "admin") ||
      (parts.size() == 2 && parts[0] == "assets")) {
    if (method != verb::get && method != verb::head) return not_allowed();
    bool page = parts.size() < 2;
    const ui_asset* asset = find_ui_asset(page ? std::string_view("/index.html") : path);
    if (!asset) return ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));
    // Asset names carry content hashes: cache them for good, never the page.
    return ex.send(beast_http::status::ok, std::string(asset->body),
                   std::string(asset->content_type).c_str(),
                   page ? "no-cache" : "public, max-age=31536000, immutable");
  }
  if (auto access = check_access(ex.ctx, req, path, query); !access) return ex.fail(access.err());
  // GET /healthz: the process is up.
  if (parts.size() == 1 && parts[0] == "healthz") {
    if (method != verb::get && method != verb::head) return not_allowed();
    return ex.json(200, json::object{{"status", "ok"}});
  }
  // GET /metrics: Prometheus.
  if (parts.size() == 1 && parts[0] == "metrics") {
    if (method != verb::get && method != verb::head) return not_allowed();
    return prometheus_metrics(ex);
  }
  // GET /readyz: store open, recovery done, and the disk not full.
  if (parts.size() == 1 && parts[0] == "readyz") {
    if (method != verb::get && method != verb::head) return not_allowed();
    bool ready = ex.ctx.ready && ex.ctx.ready->load();
    bool full = ex.ctx.db->out_of_space();
    json::object body{{"ready", ready && !full}};
    if (ready && full) body["reason"] = "storage_full";
    return ex.json(ready && !full ? 200 : 503, std::move(body));
  }
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1")
    return ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));

  if (parts[2] == "types") {
    if (parts.size() == 3) {
      if (method != verb::get) return not_allowed();
      return list_types(ex);
    }
    std::string type = url_path_segment(parts[3]);
    if (parts.size() == 4) {
      if (method != verb::get) return not_allowed();
      return get_type(ex, type);
    }
    if (parts.size() == 5) {
      static const std::map<std::string_view,
                            std::function<void(const exchange&, std::string_view)>, std::less<>>
          actions = {
              {"pause", [](auto& e, auto t) { set_type_paused(e, t, true); }},
              {"resume", [](auto& e, auto t) { set_type_paused(e, t, false); }},
              {"retry-failed", [](auto& e, auto t) { bulk_type_action(e, t, bulk_action::retry); }},
              {"cancel-pending",
               [](auto& e, auto t) { bulk_type_action(e, t, bulk_action::cancel); }},
          };
      if (auto a = actions.find(parts[4]); a != actions.end()) {
        if (method != verb::post) return not_allowed();
        return a->second(ex, type);
      }
    }
    return ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));
  }
  if (parts[2] == "events" && parts.size() == 3) {
    if (method != verb::get) return not_allowed();
    return ex.fail(make_error(errc::invalid_request,
                              "GET /api/v1/events is a WebSocket: send Upgrade: websocket"));
  }
  if (parts[2] == "admin" && parts.size() == 4 && parts[3] == "info") {
    if (method != verb::get) return not_allowed();
    return admin_info(ex);
  }
  if (parts[2] == "admin" && parts.size() == 4 && parts[3] == "log-level") {
    if (method == verb::get) return get_log_level(ex);
    if (method == verb::put || method == verb::post) return put_log_level(ex, req);
    return not_allowed();
  }
  if (parts[2] == "workers" && parts.size() == 3) {
    if (method != verb::get) return not_allowed();
    return list_workers(ex);
  }
  if (parts[2] == "workers" && parts.size() == 4 && parts[3] == "lease") {
    if (method != verb::post) return not_allowed();
    return lease_tasks(ex, req);
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
  if (parts.size() == 4 && parts[3] == "clean") {
    if (method != verb::post) return not_allowed();
    return clean_tasks(ex, req);
  }
  auto id = parse_id(parts[3]);
  if (!id) return ex.fail(make_error(errc::not_found, "no task " + std::string(parts[3])));
  if (parts.size() == 4) {
    if (method == verb::get) return get_task(ex, *id);
    if (method == verb::delete_) return delete_task(ex, *id);
    return not_allowed();
  }
  if (parts.size() == 5 && (parts[4] == "retry" || parts[4] == "cancel" || parts[4] == "promote")) {
    if (method != verb::post) return not_allowed();
    if (parts[4] == "retry") return post_retry(ex, *id);
    if (parts[4] == "promote") return post_promote(ex, *id);
    return post_cancel(ex, *id);
  }
  if (parts.size() == 5) {
    static const std::map<std::string_view, worker_report, std::less<>> reports = {
        {"heartbeat", worker_report::heartbeat},
        {"complete", worker_report::complete},
        {"fail", worker_report::fail},
        {"log", worker_report::log},
    };
    if (auto r = reports.find(parts[4]); r != reports.end()) {
      if (method != verb::post) return not_allowed();
      return worker_report_call(ex, req, *id, r->second);
    }
  }
  if (parts.size() == 5 && (parts[4] == "events" || parts[4] == "attempts" || parts[4] == "logs")) {
    if (method != verb::get) return not_allowed();
    if (parts[4] == "attempts") return task_attempts(ex, *id);
    if (parts[4] == "logs") return task_logs(ex, *id);
    return task_timeline(ex, *id);
  }
  ex.fail(make_error(errc::not_found, "no route for " + std::string(path)));
}

} // namespace

connection_taker upgrade_request(const api_context& ctx, const request& req) {
  std::string_view target(req.target().data(), req.target().size());
  if (target.substr(0, target.find('?')) != "/api/v1/events") return {};
  auto qpos = target.find('?');
  std::string_view query =
      qpos == std::string_view::npos ? std::string_view{} : target.substr(qpos + 1);
  if (!check_access(ctx, req, "/api/v1/events", query)) return {}; // answered 401 as a request
  if (!ctx.bridge || !ctx.subscribers || ctx.subscribers->load() >= ctx.cfg->events.max_subscribers)
    return {}; // answered as a plain request: 503 below
  event_socket_context ev{ctx.bridge, ctx.cfg->events, ctx.subscribers, ctx.event_backlog};
  return [ev](boost::asio::ip::tcp::socket&& socket, request&& upgrade) {
    serve_event_socket(ev, std::move(socket), std::move(upgrade));
  };
}

void handle_request(const api_context& ctx, request&& req, responder respond) {
  {
    // Every answer is timed (metrics, by route template and code) and, at debug level,
    // logged (the access log).
    std::string_view target(req.target().data(), req.target().size());
    respond.send = [send = std::move(respond.send), stats = ctx.stats,
                    method = std::string(req.method_string()),
                    route = route_label(target.substr(0, target.find('?'))),
                    start = std::chrono::steady_clock::now()](response res) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      int code = static_cast<int>(res.result_int());
      if (stats) stats->http_request(method, route, code, seconds);
      // The fields are built only when the access log is on (debug).
      if (spdlog::default_logger_raw()->should_log(spdlog::level::debug))
        log_event(spdlog::level::debug, "http request",
                  {{"method", json::string(method)},
                   {"route", json::string(route)},
                   {"status", code},
                   {"duration_ms", std::round(seconds * 100000.0) / 100.0}});
      send(std::move(res));
    };
  }
  exchange ex{ctx, req.version(), req.keep_alive(), std::move(respond)};
  try {
    if (boost::beast::websocket::is_upgrade(req)) {
      // An upgrade that upgrade_request declined because the stream is full.
      std::string_view target(req.target().data(), req.target().size());
      if (target.substr(0, target.find('?')) == "/api/v1/events")
        return ex.fail(make_error(errc::unavailable,
                                  "too many event-stream subscribers (events.max_subscribers)"));
    }
    route(ex, req);
  } catch (const std::exception& e) {
    // The Beast boundary: the only place exceptions are caught.
    ex.fail(make_error(errc::internal, e.what()));
  }
}

} // namespace taskd::http
