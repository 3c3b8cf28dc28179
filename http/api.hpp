#pragma once
// The REST API: one route table (api.cpp) translating HTTP to scheduler and store calls.

#include <atomic>
#include <memory>

#include <caf/all.hpp>

#include "http/server.hpp"
#include "src/config/config.hpp"
#include "storage/store.hpp"

namespace taskd::http {

struct api_context {
  std::shared_ptr<const config> cfg;
  store* db = nullptr;
  caf::actor_system* sys = nullptr;
  caf::actor scheduler;
  std::shared_ptr<std::atomic<bool>> ready; // store open and recovery done
};

/// Answers every request exactly once; never throws (errors become JSON responses).
void handle_request(const api_context& ctx, request&& req, responder respond);

/// HTTP status for a client-visible error code: the one place the mapping lives.
int http_status(errc code);

} // namespace taskd::http
