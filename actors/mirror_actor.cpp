#include "actors/mirror_actor.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "mirror/rows.hpp"

namespace taskd {

namespace {

constexpr int mirror_nice = 10;

using pump_atom = caf::atom_constant<caf::atom("mpump")>;
using retry_atom = caf::atom_constant<caf::atom("mretry")>;
using stored_atom = caf::atom_constant<caf::atom("mstored")>;
using linger_atom = caf::atom_constant<caf::atom("mlinger")>;

struct mirror_actor_state {
  static inline const char* name = "mirror";
  mirror_deps deps;
  std::uint64_t cursor = 0;
  bool resync = false;
  std::uint64_t resync_at = 0; // the head the resync is stamped with
  task_id resync_after = 0;    // the last task id already copied
  int failures = 0;            // consecutive
  bool waiting_retry = false;  // pumps wait for the retry timer
  bool lingering = false;      // pumps wait for the linger timer
  std::uint64_t stored = 0;    // the cursor last stored durably
  bool store_in_flight = false;
};

using self_ptr = caf::stateful_actor<mirror_actor_state>*;

const std::string& name_of(self_ptr self) { return self->state.deps.status->sink(); }

void pump_soon(self_ptr self) {
  if (self->state.deps.status->want_pump()) self->send(self, pump_atom::value);
}

void start_resync(self_ptr self) {
  auto& st = self->state;
  st.resync = true;
  st.resync_at = st.deps.db->head_seq();
  st.resync_after = 0;
  st.deps.db->hold_changes(name_of(self), st.resync_at);
  st.deps.status->set_state(mirror_state::resyncing);
  spdlog::info("{} mirror: copying every task (resync at seq {})", name_of(self), st.resync_at);
}

void store_cursor(self_ptr self) {
  auto& st = self->state;
  if (st.store_in_flight || st.cursor == st.stored) return;
  st.store_in_flight = true;
  auto handle = caf::actor_cast<caf::actor>(self);
  std::uint64_t seq = st.cursor;
  st.deps.db->submit(cursor_op{name_of(self), seq}, [handle, seq](write_result r) {
    caf::anon_send(handle, stored_atom::value, seq, r.ok());
  });
}

void succeeded(self_ptr self) {
  auto& st = self->state;
  if (st.failures > 0)
    spdlog::info("{} mirror: writing again (applied through seq {}, head {})", name_of(self),
                 st.cursor, st.deps.db->head_seq());
  st.failures = 0;
  st.deps.status->set_state(st.resync ? mirror_state::resyncing : mirror_state::ok);
}

void failed(self_ptr self, const error& e) {
  auto& st = self->state;
  st.deps.status->failed(e.message);
  if (e.code == sink_refused) {
    spdlog::error("{} mirror: not started: {}", name_of(self), e.message);
    st.deps.status->set_state(mirror_state::refused);
    st.deps.db->release_changes(name_of(self));
    return;
  }
  if (st.failures++ == 0)
    spdlog::warn("{} mirror: {}; retrying with backoff (at most every {} ms)", name_of(self),
                 e.message, st.deps.retry_max_ms);
  else
    spdlog::debug("{} mirror: retry {} failed: {}", name_of(self), st.failures, e.message);
  st.deps.status->set_state(mirror_state::retrying);
  st.waiting_retry = true;
  self->delayed_send(self,
                     std::chrono::milliseconds(
                         retry_delay(st.failures, st.deps.retry_min_ms, st.deps.retry_max_ms)),
                     retry_atom::value);
}

/// One resync page: tasks in id order, each with the seq of its last change.
status resync_step(self_ptr self, bool& more) {
  auto& st = self->state;
  auto page = st.deps.db->tasks_with_last_seq(st.resync_after, st.deps.batch);
  if (!page) return page.err();
  bool last = page->size() < st.deps.batch;
  if (auto s = st.deps.sink->resync_put(*page, st.resync_after, last, st.resync_at); !s) return s;
  more = true;
  if (!last) {
    st.resync_after = page->back().t.id;
    return ok_status();
  }
  st.resync = false;
  st.cursor = st.resync_at;
  st.deps.status->set_cursor(st.cursor);
  spdlog::info("{} mirror: resync done; replaying changes after seq {}", name_of(self), st.cursor);
  return ok_status();
}

/// One page of the change log after the cursor; `more` if there may be another at once
/// (a full page); after a partial page the mirror lingers before the next.
status live_step(self_ptr self, bool& more) {
  auto& st = self->state;
  more = false;
  if (st.cursor >= st.deps.db->head_seq()) return ok_status();
  auto page = st.deps.db->changes_since(st.cursor, st.deps.batch);
  if (!page) return page.err();
  if (page->empty() || page->front().seq != st.cursor + 1) {
    start_resync(self); // the log lost entries this mirror never applied
    more = true;
    return ok_status();
  }
  if (auto s = st.deps.sink->apply(newest_per_task(*page), *page); !s) return s;
  st.cursor = page->back().seq;
  st.deps.status->set_cursor(st.cursor);
  more = page->size() >= st.deps.batch;
  if (!more && st.deps.linger_ms > 0) {
    st.lingering = true;
    self->delayed_send(self, std::chrono::milliseconds(st.deps.linger_ms), linger_atom::value);
  } else {
    more = true;
  }
  return ok_status();
}

void pump(self_ptr self) {
  auto& st = self->state;
  // Waiting for a timer or refused: the pump flag stays taken, so commits send no more
  // wake-ups until the timer's pump.
  if (st.waiting_retry || st.lingering || st.deps.status->state() == mirror_state::refused) return;
  st.deps.status->pump_taken();
  if (st.deps.status->state() == mirror_state::starting) {
    if (auto s = st.deps.sink->prepare(); !s) return failed(self, s.err());
    spdlog::info("{} mirror: connected, replicating from seq {}", name_of(self), st.cursor);
  }
  bool more = false;
  auto s = st.resync ? resync_step(self, more) : live_step(self, more);
  if (!s) return failed(self, s.err());
  succeeded(self);
  if (!st.resync) store_cursor(self);
  if (more) pump_soon(self);
}

caf::behavior mirror(self_ptr self, mirror_deps deps) {
  // A detached actor's behavior starts on its own thread: lower that thread's priority,
  // so that on a busy machine the engine's threads get the CPU first and the mirror
  // catches up in the gaps (Linux: nice applies per thread).
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), mirror_nice) != 0)
    spdlog::debug("mirror: could not lower the thread's priority");
  auto& st = self->state;
  st.deps = std::move(deps);
  auto stored = st.deps.db->stored_cursor(name_of(self));
  std::optional<std::uint64_t> cursor = stored ? *stored : std::nullopt;
  if (!stored)
    spdlog::error("{} mirror: reading its cursor failed: {}", name_of(self), stored.err().message);
  bool usable =
      cursor && *cursor <= st.deps.db->head_seq() && *cursor + 1 >= st.deps.db->oldest_seq();
  if (usable) {
    st.cursor = st.stored = *cursor;
    st.deps.db->hold_changes(name_of(self), st.cursor);
    st.deps.status->set_cursor(st.cursor);
  } else {
    start_resync(self);
  }
  pump_soon(self);
  return {
      [=](pump_atom) { pump(self); },
      [=](retry_atom) {
        self->state.waiting_retry = false;
        self->state.deps.status->pump_taken();
        pump(self);
      },
      [=](linger_atom) {
        self->state.lingering = false;
        self->state.deps.status->pump_taken();
        pump(self);
      },
      [=](stored_atom, std::uint64_t seq, bool ok) {
        auto& s = self->state;
        s.store_in_flight = false;
        if (ok)
          s.stored = seq;
        else
          spdlog::warn("{} mirror: storing its cursor failed (changes since are resent)",
                       name_of(self));
        store_cursor(self);
      },
  };
}

} // namespace

const char* to_string(mirror_state s) {
  switch (s) {
  case mirror_state::starting: return "starting";
  case mirror_state::resyncing: return "resyncing";
  case mirror_state::ok: return "ok";
  case mirror_state::retrying: return "retrying";
  case mirror_state::refused: return "refused";
  }
  return "unknown";
}

millis retry_delay(int failures, millis min_ms, millis max_ms) {
  millis d = min_ms;
  for (int i = 1; i < failures && d < max_ms; ++i) d *= 2;
  return std::min(d, max_ms);
}

caf::actor spawn_mirror(caf::actor_system& sys, mirror_deps deps) {
  store* db = deps.db;
  auto status = deps.status;
  auto handle = sys.spawn<caf::detached>(mirror, std::move(deps));
  caf::actor_addr addr = handle.address(); // weak: the store must not keep the actor alive
  db->on_changes([addr, status](std::uint64_t) {
    if (!status->want_pump()) return;
    if (auto h = caf::actor_cast<caf::actor>(addr)) caf::anon_send(h, pump_atom::value);
  });
  return handle;
}

} // namespace taskd
