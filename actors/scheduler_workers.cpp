#include <spdlog/spdlog.h>

#include "actors/scheduler_state.hpp"
#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"

// Remote workers: types with handler = "worker" are not pushed to task actors; workers
// lease them (pull). Concurrency, priorities, retries and backpressure are the same.

namespace taskd::scheduling {

namespace {

void arm_lease_tick(self_ptr self) {
  auto& st = self->state;
  if (st.lease_tick_armed || st.leases.empty()) return;
  st.lease_tick_armed = true;
  self->delayed_send(self, lease_check_interval, lease_tick_atom::value);
}

/// The attempt of a leased task ended (reported, or its lease ran out): free its slot.
void end_remote(self_ptr self, task_id id) {
  auto& st = self->state;
  if (auto l = st.leases.find(id); l != st.leases.end()) {
    if (auto w = st.workers.find(l->second.worker); w != st.workers.end() && w->second.in_flight)
      w->second.in_flight -= 1;
    st.leases.erase(l);
  }
  release_slot(self, id);
}

/// The worker list stays bounded: past `limit` entries, the idle workers (nothing leased)
/// seen longest ago are forgotten.
void forget_idle_workers(std::map<std::string, worker_info>& workers, std::size_t limit) {
  while (workers.size() > limit) {
    auto oldest = workers.end();
    for (auto it = workers.begin(); it != workers.end(); ++it)
      if (it->second.in_flight == 0 &&
          (oldest == workers.end() || it->second.last_seen < oldest->second.last_seen))
        oldest = it;
    if (oldest == workers.end()) return; // every one holds leases
    workers.erase(oldest);
  }
}

/// Starts up to req.max ready tasks of the requested types, best priority first across
/// them; their answer goes out once every start is durable. Returns how many started.
std::size_t try_lease(self_ptr self, const lease_request& req, const caf::response_promise& rp) {
  auto& st = self->state;
  if (st.draining) return 0;
  const std::uint64_t batch = st.next_lease;
  std::size_t n = 0;
  if (auto& turn = st.sync_for_worker;
      turn && req.max > 0 && !st.paused->count(turn->type) &&
      std::find(req.types.begin(), req.types.end(), turn->type) != req.types.end()) {
    lease_grant grant{new_lease_token(), req.worker, req.lease_ms};
    auto entry = turn->entry;
    auto type = turn->type;
    turn.reset(); // the lane stays busy: now for the leased attempt
    start(self, entry, type, true, &grant, batch);
    ++n;
  }
  while (n < req.max) {
    type_state* best = nullptr;
    const std::string* best_name = nullptr;
    for (const auto& name : req.types) {
      auto it = st.types.find(name);
      if (it == st.types.end() || st.paused->count(name)) continue;
      auto& ts = it->second;
      const std::int32_t limit = ts.cfg ? ts.cfg->concurrency : 1;
      if (ts.running >= limit || ts.ready.empty()) continue;
      if (!best || ts.ready.front() < best->ready.front()) {
        best = &ts;
        best_name = &it->first;
      }
    }
    if (!best) break;
    auto e = best->ready.pop_front();
    if (st.running.count(e.id)) continue;
    lease_grant grant{new_lease_token(), req.worker, req.lease_ms};
    start(self, e, *best_name, false, &grant, batch);
    ++n;
  }
  if (n > 0) {
    st.next_lease += 1;
    st.lease_batches.emplace(batch, lease_batch{rp, n, {}});
  }
  return n;
}

} // namespace

void serve_parked(self_ptr self) {
  auto& st = self->state;
  for (auto it = st.parked.begin(); it != st.parked.end();) {
    if (try_lease(self, it->second.req, it->second.rp) > 0)
      it = st.parked.erase(it);
    else
      ++it;
  }
}

void on_lease(self_ptr self, lease_request req, caf::response_promise rp) {
  auto& st = self->state;
  if (st.draining) {
    rp.deliver(make_boxed<lease_reply>(make_error(errc::shutting_down, "taskd is shutting down")));
    return;
  }
  auto& w = st.workers[req.worker];
  w.id = req.worker;
  w.last_seen = now_ms();
  w.types.insert(req.types.begin(), req.types.end());
  forget_idle_workers(st.workers, max_workers_listed);
  if (try_lease(self, req, rp) > 0) return;
  if (req.wait_ms <= 0) {
    rp.deliver(make_boxed<lease_reply>(std::vector<task>{}));
    return;
  }
  // Parked until a task of its types is ready (serve_parked runs after every change the
  // scheduler sees) or its wait is over.
  auto id = st.next_lease++;
  auto wait = std::chrono::milliseconds(req.wait_ms);
  st.parked.emplace(id, parked_lease{std::move(req), std::move(rp)});
  self->delayed_send(self, wait, lease_wait_atom::value, id);
  refill_if_low(self);
}

void lease_started(self_ptr self, const commit_event& ev) {
  auto& st = self->state;
  auto batch = st.lease_batches.find(ev.lease_batch);
  if (ev.result) {
    const task& t = ev.result->front().after;
    millis started = t.started_at.value_or(t.lease_expires_at);
    st.leases[t.id] = lease_info{t.lease_token, t.worker, t.lease_expires_at,
                                 t.lease_expires_at - started, false};
    st.workers[t.worker].in_flight += 1;
    arm_lease_tick(self);
    if (batch != st.lease_batches.end()) batch->second.tasks.push_back(t);
  } else {
    auto code = ev.result.err().code;
    if (code != errc::conflict && code != errc::not_found) {
      spdlog::error("lease of task {} was not written: {}", ev.id, ev.result.err().message);
      if (ev.sync_lane && ev.entry)
        st.sync_ready.offer(*ev.entry);
      else if (auto it = st.types.find(ev.type); it != st.types.end() && ev.entry)
        it->second.ready.offer(*ev.entry);
    }
    release_slot(self, ev.id);
  }
  if (batch != st.lease_batches.end() && --batch->second.outstanding == 0) {
    batch->second.rp.deliver(make_boxed<lease_reply>(std::move(batch->second.tasks)));
    st.lease_batches.erase(batch);
  }
}

void on_report(self_ptr self, worker_call call, caf::response_promise rp) {
  auto& st = self->state;
  millis lease_ms = 60000;
  if (auto l = st.leases.find(call.id); l != st.leases.end()) {
    lease_ms = l->second.lease_ms;
    st.workers[l->second.worker].last_seen = now_ms();
  }
  if (call.lease_ms) lease_ms = *call.lease_ms;
  commit_event ev{commit_kind::report};
  ev.id = call.id;
  ev.report = call.kind;
  ev.request = remember(self, std::move(rp));
  auto apply = [call = std::move(call), lease_ms](task& t) -> status {
    millis now = now_ms();
    switch (call.kind) {
    case worker_report::heartbeat: return extend_lease(t, call.token, call.progress, lease_ms, now);
    case worker_report::complete: return complete_leased(t, call.token, call.result, now);
    case worker_report::fail: {
      auto r = fail_leased(t, call.token, call.error, call.retryable, now);
      return r ? ok_status() : status(r.err());
    }
    case worker_report::log: return append_leased_log(t, call.token, call.lines);
    }
    return ok_status();
  };
  st.deps.db->submit(update_op{ev.id, std::move(apply), true}, post_commit(self, std::move(ev)));
}

void on_lease_tick(self_ptr self) {
  auto& st = self->state;
  st.lease_tick_armed = false;
  millis now = now_ms();
  for (auto& [id, lease] : st.leases) {
    if (lease.expiring || lease.expires_at > now) continue;
    lease.expiring = true;
    commit_event ev{commit_kind::expire};
    ev.id = id;
    auto apply = [token = lease.token](task& t) -> status {
      auto r = expire_lease(t, token, now_ms());
      return r ? ok_status() : status(r.err());
    };
    st.deps.db->submit(update_op{id, std::move(apply), true}, post_commit(self, std::move(ev)));
  }
  arm_lease_tick(self);
}

/// A worker's report or a lease expiry committed (or was refused).
void on_remote_committed(self_ptr self, commit_event& ev) {
  auto& st = self->state;
  auto lease = st.leases.find(ev.id);
  if (!ev.result) {
    if (ev.kind == commit_kind::expire && lease != st.leases.end()) lease->second.expiring = false;
    return;
  }
  const auto& ch = ev.result->front();
  account(self, commit_kind::finish, ch);
  if (ch.after.status == task_status::in_progress) {
    if (lease != st.leases.end()) lease->second.expires_at = ch.after.lease_expires_at;
    return;
  }
  if (ch.after.status == task_status::completed) st.completed[ch.after.type].add(now_ms());
  if (ev.kind == commit_kind::expire)
    spdlog::warn("task {} ({}): lease of worker {} expired", ch.after.id, ch.after.type,
                 ch.after.worker);
  end_remote(self, ev.id);
}

} // namespace taskd::scheduling
