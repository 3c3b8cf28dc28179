#pragma once
// Who may call: the API token ([server] api_token / TASKD_API_TOKEN) and the refusal of
// cross-site writes. Knows requests, not routes.

#include <string_view>

#include "http/api.hpp"

namespace taskd::http {

/// ok, or why the request is refused:
/// - with a token configured, /api/* (the event stream included) and, with
///   metrics_require_token, /metrics need "Authorization: Bearer <token>"; the event
///   stream may give it as ?access_token=<token> instead (browsers cannot set headers on
///   WebSockets). The UI shell (/, /admin, /assets/*), /healthz and /readyz stay open:
///   they hold no task data. -> unauthorized
/// - a state-changing request (not GET/HEAD) whose Origin header names another host
///   than its Host header -> forbidden (a page elsewhere cannot drive taskd's API
///   through a browser).
status check_access(const api_context& ctx, const request& req, std::string_view path,
                    std::string_view query);

/// True if `host` is a loopback address (or "localhost"): listening there needs no token.
bool is_loopback_host(std::string_view host);

} // namespace taskd::http
