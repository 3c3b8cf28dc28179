#pragma once
// The REST API: one route table (api.cpp) translating HTTP to scheduler and store calls.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/all.hpp>

#include "actors/mirror_actor.hpp"
#include "http/server.hpp"
#include "actors/scheduler_actor.hpp"
#include "src/config/config.hpp"
#include "src/metrics/metrics.hpp"
#include "storage/store.hpp"

namespace taskd::http {

struct api_context {
  std::shared_ptr<const config> cfg;
  store* db = nullptr;
  caf::actor_system* sys = nullptr;
  caf::actor scheduler;
  std::shared_ptr<std::atomic<bool>> ready; // store open and recovery done
  caf::actor bridge;
  std::shared_ptr<std::atomic<std::size_t>> subscribers; // event-stream connections
  millis started_at = 0;
  std::shared_ptr<std::atomic<std::int64_t>> event_backlog = // messages queued to them
      std::make_shared<std::atomic<std::int64_t>>(0);
  /// Oldest due pending task per type, read at most once a second: finding it seeks past
  /// the tombstones of every task that left pending, too slow for clients that poll.
  struct oldest_pending_cache {
    struct entry {
      millis expires_at = 0;
      std::optional<millis> since; // none: no pending task was due
      std::uint64_t pending = 0;   // the type's pending count when it was read
    };
    std::mutex mu;
    std::map<std::string, entry, std::less<>> by_type;
  };
  std::shared_ptr<oldest_pending_cache> oldest_pending = std::make_shared<oldest_pending_cache>();
  metrics* stats = nullptr; // Prometheus metrics; null in setups without them
  std::vector<std::shared_ptr<const mirror_status>> mirrors = {}; // [bridge] sinks
  std::shared_ptr<create_gate> creates = {}; // admits creates without the scheduler's mailbox
  std::shared_ptr<std::atomic<bool>> draining = std::make_shared<std::atomic<bool>>(false);
};

/// Answers every request exactly once; never throws (errors become JSON responses).
void handle_request(const api_context& ctx, request&& req, responder respond);

/// Who takes over an upgrade request (GET /api/v1/events); empty: answer it as a request.
connection_taker upgrade_request(const api_context& ctx, const request& req);

/// HTTP status for a client-visible error code: the one place the mapping lives.
int http_status(errc code);

} // namespace taskd::http
