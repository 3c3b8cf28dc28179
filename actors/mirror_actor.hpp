#pragma once
// A mirror actor replicates the change log into one sink (PostgreSQL or Redis), on its
// own thread because sink calls block on the network.
//
// Delivery is at least once, made harmless by the sinks' idempotent writes: a page of
// changes is applied, then the cursor (the last seq applied) is stored in the store, so
// a crash between the two replays the page. The mirror holds the change log from its
// cursor on, so nothing it has not applied is trimmed. A cursor the log no longer holds
// (a mirror enabled on existing data) starts a full resync from the tasks themselves.
//
// A failing sink is retried with capped exponential backoff and never blocks anything
// else: the engine only notices the change log growing. State changes are logged once,
// not per retry.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include "mirror/sink.hpp"
#include "src/core/task.hpp"
#include "storage/store.hpp"

namespace taskd {

enum class mirror_state { starting, resyncing, ok, retrying, refused };
const char* to_string(mirror_state s);

/// What the admin API and the metrics read about a mirror. Thread-safe.
class mirror_status {
public:
  explicit mirror_status(std::string sink) : sink_(std::move(sink)) {}
  const std::string& sink() const { return sink_; }
  std::uint64_t cursor() const { return cursor_.load(); }
  std::uint64_t errors() const { return errors_.load(); }
  mirror_state state() const { return state_.load(); }
  std::string last_error() const {
    std::lock_guard lock(mu_);
    return last_error_;
  }

  void set_cursor(std::uint64_t seq) { cursor_.store(seq); }
  void set_state(mirror_state s) { state_.store(s); }
  void failed(std::string message) {
    errors_.fetch_add(1);
    std::lock_guard lock(mu_);
    last_error_ = std::move(message);
  }
  /// True if the caller should send the actor a pump message (none is queued yet).
  bool want_pump() { return !pump_queued_.exchange(true); }
  void pump_taken() { pump_queued_.store(false); }

private:
  const std::string sink_;
  std::atomic<std::uint64_t> cursor_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<mirror_state> state_{mirror_state::starting};
  std::atomic<bool> pump_queued_{false};
  mutable std::mutex mu_;
  std::string last_error_;
};

struct mirror_deps {
  store* db = nullptr;
  std::shared_ptr<mirror_sink> sink;
  std::shared_ptr<mirror_status> status;
  std::size_t batch = 500;
  millis retry_min_ms = 100;
  millis retry_max_ms = 10000;
  millis linger_ms = 20;
};

/// Spawns the mirror (detached) and registers it as a change listener of the store.
caf::actor spawn_mirror(caf::actor_system& sys, mirror_deps deps);

/// The pause before retry number `failures` (1-based): min doubling up to max.
millis retry_delay(int failures, millis min_ms, millis max_ms);

} // namespace taskd
