#pragma once
// A mirror's destination (PostgreSQL, Redis). Knows nothing of actors: the mirror actor
// drives one on its own thread, so every call may block on the network.
//
// Contract for every call: all or nothing from the mirror's point of view (a failed
// apply may be repeated whole), and a failure leaves the sink disconnected, so the next
// call reconnects. Exceptions of client libraries never escape.

#include <cstdint>
#include <vector>

#include "src/core/error.hpp"
#include "storage/store.hpp"

namespace taskd {

/// errc::conflict from prepare(): the destination can never take our writes as it is
/// (an incompatible table). Anything else is worth retrying.
inline constexpr errc sink_refused = errc::conflict;

class mirror_sink {
public:
  virtual ~mirror_sink() = default;
  /// Connects if needed and checks (or creates) what the mirror writes into.
  virtual status prepare() = 0;
  /// Applies a page of the change log: `newest` holds each task's newest change in the
  /// page (what the task rows become, never moving a row to an older seq), `page` every
  /// change in order (for an event stream).
  virtual status apply(const std::vector<const change_entry*>& newest,
                       const std::vector<change_entry>& page) = 0;
  /// Full resynchronization, used when the change log no longer holds the mirror's
  /// cursor (a mirror enabled on existing data). Called with every task in id order, a
  /// page at a time, each with the seq of its last change (the mirror then replays the
  /// change log from `at`, the head when the resync began). Each call overwrites the rows
  /// of `tasks` and removes rows of tasks in (`after`, last id of `tasks`] that taskd does
  /// not have; the `last` call also removes every row above.
  virtual status resync_put(const std::vector<change_entry>& tasks, task_id after, bool last,
                            std::uint64_t at) = 0;
  virtual void disconnect() = 0;
};

} // namespace taskd
