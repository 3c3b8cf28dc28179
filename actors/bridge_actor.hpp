#pragma once
// The bridge actor feeds the change log to subscribers (WebSocket sessions, in http/).
//
// Each subscriber has a cursor (the last seq it was given) and a filter. Live subscribers
// get each committed change once, serialized once for all of them; a subscriber that
// asked to replay from an older seq catches up from the store in pages, paced by its
// queue. Whoever falls further behind than its queue allows, or asks for a seq the
// change log no longer holds, gets a reset and continues live: memory per subscriber is
// bounded by events.max_queued messages, and nothing here ever waits for a subscriber.
//
// Accepts:
//   (join_atom, subscriber_id, boxed<std::shared_ptr<event_sink>>)  sends hello
//   (subscribe_atom, subscriber_id, boxed<subscribe_request>)
//   (leave_atom, subscriber_id)
// The store's change listener posts (head_atom, seq) itself (see spawn_bridge).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "src/config/config.hpp"
#include "src/core/events.hpp"
#include "storage/store.hpp"

namespace taskd {

using event_message = std::shared_ptr<const std::string>;

/// A subscriber's outbound side. Thread-safe; never blocks.
class event_sink {
public:
  virtual ~event_sink() = default;
  virtual void push(std::vector<event_message> messages) = 0;
  /// Messages queued and not yet written.
  virtual std::size_t backlog() const = 0;
  /// Drops what is queued (not what is being written) and queues `message` instead.
  virtual void replace_backlog(event_message message) = 0;
};

using subscriber_id = std::uint64_t;
using join_atom = caf::atom_constant<caf::atom("join")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using catchup_atom = caf::atom_constant<caf::atom("catchup")>;

struct bridge_deps {
  store* db = nullptr;
  events_config cfg;
  std::shared_ptr<std::atomic<std::size_t>> subscribers; // live count, for admin info
};

/// Spawns the bridge on its own thread (it reads the store) and registers it as the
/// store's change listener.
caf::actor spawn_bridge(caf::actor_system& sys, bridge_deps deps);

void add_bridge_message_types(caf::actor_system_config& cfg);

} // namespace taskd
