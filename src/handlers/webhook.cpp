// The webhook handler: POSTs the task to an http:// URL and maps the response to a
// handler_outcome. Beast stays in this translation unit to keep it out of everyone's
// compile times.
//
// Beast's timeouts apply only to asynchronous operations, so the exchange runs as async
// operations on a private io_context driven by the calling thread: still a blocking call
// from the outside, but one that gives up at the deadline.

#include "src/handlers/handlers.hpp"
#include "src/handlers/output.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

namespace taskd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t max_response_body_bytes = 1 << 20;
constexpr std::size_t error_excerpt_bytes = 512;
// Longer timeouts are treated as "none"; keeps the deadline arithmetic from overflowing.
constexpr millis max_timeout_ms = millis{1} << 40;

struct http_url {
  std::string host; // without brackets for IPv6 literals
  std::uint16_t port = 80;
  std::string target = "/";
};

// At most `max_bytes`, not cutting a character in two.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// http://host[:port][/path][?query][#fragment]; IPv6 literals in brackets. No userinfo,
// no other scheme. The fragment is dropped (it is never sent).
std::optional<http_url> parse_http_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!starts_with_nocase(url, scheme)) return std::nullopt;
  std::string_view rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('#'));
  const auto authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view host = authority;
  std::optional<std::string_view> port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;

  http_url out;
  out.host = std::string(host);
  if (port_text) {
    const auto port = parse_port(*port_text);
    if (!port) return std::nullopt;
    out.port = *port;
  }
  // Spaces or control characters would corrupt the request line.
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return std::nullopt;
  if (target.empty()) {
    out.target = "/";
  } else if (target.front() == '?') {
    out.target = "/" + std::string(target);
  } else {
    out.target = std::string(target);
  }
  return out;
}

std::string host_port(const http_url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + url.host + "]" : url.host;
  return host + ":" + std::to_string(url.port);
}

std::string host_header(const http_url& url) {
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + url.host + "]" : url.host;
  if (url.port != 80) host += ":" + std::to_string(url.port);
  return host;
}

std::optional<clock_type::time_point> deadline_after(millis timeout_ms) {
  if (timeout_ms <= 0 || timeout_ms > max_timeout_ms) return std::nullopt;
  return clock_type::now() + std::chrono::milliseconds(timeout_ms);
}

void arm_timeout(beast::tcp_stream& stream, std::optional<clock_type::time_point> deadline) {
  if (deadline) {
    stream.expires_at(*deadline);
  } else {
    stream.expires_never();
  }
}

// Starts one async operation and runs the io_context until it has completed. The stream's
// timer makes the operation complete with beast::error::timeout at the deadline.
template <class Initiate>
beast::error_code run_to_completion(net::io_context& ioc, Initiate&& initiate) {
  beast::error_code result = net::error::operation_aborted;
  initiate([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

std::string timed_out(millis timeout_ms) {
  return "timed out after " + std::to_string(timeout_ms) + " ms";
}

handler_outcome outcome_without_detail(const http::response<http::string_body>& res) {
  const unsigned status = res.result_int();
  if (status >= 200 && status < 300) {
    handler_outcome out;
    out.success = true;
    out.result = output_to_json(res.body());
    return out;
  }
  std::string detail = to_valid_utf8(trim_space(utf8_prefix(res.body(), error_excerpt_bytes)));
  if (detail.empty()) detail = to_valid_utf8(trim_space(res.reason()));
  std::string error = "HTTP " + std::to_string(status);
  if (!detail.empty()) error += ": " + detail;
  if (status >= 500 && status < 600) return failed_outcome(std::move(error), true);
  // 4xx: the request itself is wrong; repeating it will not help. Other codes (3xx: we
  // do not follow redirects) point at a configuration problem just the same.
  if (status >= 300 && status < 400) error += " (redirects are not followed)";
  return failed_outcome(std::move(error), false);
}

handler_outcome outcome_from_response(const http::response<http::string_body>& res) {
  auto out = outcome_without_detail(res);
  out.detail = boost::json::object{{"http_status", res.result_int()}};
  return out;
}

handler_outcome post_json(const http_url& url, const std::string& body_json, millis timeout_ms) {
  const auto deadline = deadline_after(timeout_ms);
  const std::string where = host_port(url);
  net::io_context ioc{1};

  // getaddrinfo blocks and cannot be abandoned (Asio's async resolver only moves it to a
  // thread it then joins), so name resolution is bounded by the system resolver's own
  // timeouts; the deadline is checked right after it.
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) return failed_outcome("cannot connect to " + where + ": " + ec.message());
  if (deadline && clock_type::now() >= *deadline) return failed_outcome(timed_out(timeout_ms));

  beast::tcp_stream stream(ioc);
  arm_timeout(stream, deadline);
  ec = run_to_completion(ioc, [&](auto handler) { stream.async_connect(endpoints, handler); });
  if (ec == beast::error::timeout) return failed_outcome(timed_out(timeout_ms));
  if (ec) return failed_outcome("cannot connect to " + where + ": " + ec.message());

  http::request<http::string_body> req{http::verb::post, url.target, 11};
  req.set(http::field::host, host_header(url));
  req.set(http::field::user_agent, "taskd");
  req.set(http::field::content_type, "application/json");
  req.keep_alive(false);
  req.body() = body_json;
  req.prepare_payload();

  arm_timeout(stream, deadline);
  ec = run_to_completion(ioc, [&](auto handler) { http::async_write(stream, req, handler); });
  if (ec == beast::error::timeout) return failed_outcome(timed_out(timeout_ms));
  if (ec) return failed_outcome("cannot send the request to " + where + ": " + ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_body_bytes);
  arm_timeout(stream, deadline);
  ec = run_to_completion(ioc,
                         [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec == beast::error::timeout) return failed_outcome(timed_out(timeout_ms));
  if (ec == http::error::body_limit)
    return failed_outcome("the response from " + where + " is larger than 1 MiB");
  if (ec) return failed_outcome("no valid response from " + where + ": " + ec.message());

  // The answer is complete; a failing shutdown changes nothing about it.
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return outcome_from_response(parser.get());
}

} // namespace

handler_outcome run_webhook(const std::string& url, const std::string& body_json,
                            millis timeout_ms) {
  const auto parsed = parse_http_url(url);
  if (!parsed)
    return failed_outcome("unsupported url \"" + url + "\": expected http://host[:port]/path",
                          false);
  // Beast and Asio report most errors through error codes, but allocation and a few
  // internals still throw; a handler must turn everything into an outcome.
  try {
    return post_json(*parsed, body_json, timeout_ms);
  } catch (const boost::system::system_error& e) {
    return failed_outcome("webhook to " + host_port(*parsed) + " failed: " + e.code().message());
  } catch (const std::exception& e) {
    return failed_outcome("webhook to " + host_port(*parsed) + " failed: " + e.what());
  }
}

} // namespace taskd
