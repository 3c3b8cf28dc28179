#include "http/exchange.hpp"
#include "src/core/json_parse.hpp"

#include <spdlog/spdlog.h>

namespace taskd::http {

void exchange::send(beast_http::status st, std::string body, const char* content_type,
                    const char* cache_control) const {
  response res{st, version};
  res.set(beast_http::field::content_type, content_type);
  if (cache_control) res.set(beast_http::field::cache_control, cache_control);
  // The UI loads only its own embedded files and talks only to this server.
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  respond(std::move(res));
}

void exchange::json(int st, const json::value& v) const {
  send(static_cast<beast_http::status>(st), json::serialize(v));
}

void exchange::task(int st, const taskd::task& t) const {
  std::string body;
  append_task_json(body, t);
  send(static_cast<beast_http::status>(st), std::move(body));
}

void exchange::fail(const error& e) const {
  int st = http_status(e.code);
  auto res = error_response(version, keep_alive, errc_name(e.code), st, e.message);
  if (e.code == errc::too_many_pending) res.set(beast_http::field::retry_after, "1");
  if (e.code == errc::unauthorized) res.set(beast_http::field::www_authenticate, "Bearer");
  if (st >= 500) spdlog::error("request failed: {}", e.message);
  respond(std::move(res));
}

result<json::value> parse_body(const request& req) {
  boost::system::error_code ec;
  json::value v = parse_json(req.body(), ec);
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

namespace {

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

} // namespace

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

} // namespace taskd::http
