#include "http/auth.hpp"

#include <boost/asio/ip/address.hpp>

#include "http/exchange.hpp"

namespace taskd::http {

namespace {

/// Compares without an early exit, so the time taken says nothing about the token.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// "http://host:port" -> "host:port".
std::string_view origin_authority(std::string_view origin) {
  auto scheme = origin.find("://");
  return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

} // namespace

status check_access(const api_context& ctx, const request& req, std::string_view path,
                    std::string_view query) {
  const bool api = starts_with(path, "/api/");
  const auto method = req.method();
  if (api && method != beast_http::verb::get && method != beast_http::verb::head) {
    auto origin = req.find(beast_http::field::origin);
    auto host = req.find(beast_http::field::host);
    if (origin != req.end() && host != req.end()) {
      std::string_view o(origin->value().data(), origin->value().size());
      std::string_view h(host->value().data(), host->value().size());
      if (o == "null" || origin_authority(o) != h)
        return make_error(errc::forbidden, "cross-site request refused (Origin " + std::string(o) +
                                               " is not this server)");
    }
  }
  const std::string& token = ctx.cfg->server.api_token;
  if (token.empty()) return ok_status();
  bool needs_token = api || (path == "/metrics" && ctx.cfg->server.metrics_require_token);
  if (!needs_token) return ok_status();
  if (auto auth = req.find(beast_http::field::authorization); auth != req.end()) {
    std::string_view v(auth->value().data(), auth->value().size());
    if (starts_with(v, "Bearer ") && same_secret(v.substr(7), token)) return ok_status();
    return make_error(errc::unauthorized, "the API token is wrong");
  }
  if (path == "/api/v1/events") {
    auto q = parse_query(query);
    if (auto t = q.find("access_token"); t != q.end() && same_secret(t->second, token))
      return ok_status();
  }
  return make_error(errc::unauthorized, "an API token is required: Authorization: Bearer <token>");
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

} // namespace taskd::http
