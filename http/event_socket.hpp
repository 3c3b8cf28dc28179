#pragma once
// GET /api/v1/events as a WebSocket: one session per connection, fed by the bridge actor.
// The session is a bounded pipe (the bridge decides what to send and when to reset);
// client messages are parsed here and handed to the bridge.

#include <atomic>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <caf/all.hpp>

#include "http/server.hpp"
#include "src/config/config.hpp"

namespace taskd::http {

struct event_socket_context {
  caf::actor bridge;
  events_config cfg;
  std::shared_ptr<std::atomic<std::size_t>> subscribers;
  std::shared_ptr<std::atomic<std::int64_t>> queued; // messages queued, all sessions
};

/// Takes over an upgraded connection; returns at once (the session lives on its own).
void serve_event_socket(const event_socket_context& ctx, boost::asio::ip::tcp::socket&& socket,
                        request&& upgrade);

} // namespace taskd::http
