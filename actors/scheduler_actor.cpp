#include "actors/scheduler_actor.hpp"

// GCC 12 reports maybe-uninitialized for the error alternative of a moved commit_event's
// result (a known std::variant false positive: `result` is always constructed, as an
// empty vector by default). It appeared when these functions left an anonymous namespace.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <future>

#include <spdlog/spdlog.h>

#include "actors/scheduler_state.hpp"
#include "actors/task_actor.hpp"
#include "src/handlers/builtin.hpp"
#include "src/config/auto_types.hpp"
#include "src/core/clock.hpp"
#include "src/core/lifecycle.hpp"

namespace taskd::scheduling {

void dispatch(self_ptr self);
void promote_due(self_ptr self);
void finish_attempt(self_ptr self, task_id id, handler_outcome out);
void note_write_failure(self_ptr self, const error& e);

/// Hands a store callback's event to the actor (see scheduler_state::commits).
void post_event(const caf::actor& handle, wake_queue<commit_event>& commits, commit_event ev) {
  if (commits.push(std::move(ev))) caf::anon_send(handle, commits_atom::value);
}

/// Store callbacks run on the store's writer or syncer thread: they only post back to the
/// actor.
write_callback post_commit(self_ptr self, commit_event ev) {
  auto handle = caf::actor_cast<caf::actor>(self);
  return [handle, commits = self->state.gate->commits, ev = std::move(ev)](write_result r) mutable {
    ev.result = std::move(r);
    post_event(handle, *commits, std::move(ev));
  };
}

/// A create's callback: the client's answer goes out from the store's thread as soon as the
/// tasks are durable; the scheduler learns of them by the event posted just before (so it
/// precedes anything the client asks next).
shared_write_callback post_create_commit(caf::actor handle,
                                         std::shared_ptr<wake_queue<commit_event>> commits,
                                         commit_event ev, shared_write_callback reply) {
  return [handle = std::move(handle), commits = std::move(commits), ev = std::move(ev),
          reply = std::move(reply)](shared_write_result r) mutable {
    ev.created = r;
    post_event(handle, *commits, std::move(ev));
    reply(std::move(r));
  };
}

void deliver(self_ptr self, std::uint64_t request, write_result r) {
  auto it = self->state.promises.find(request);
  if (it == self->state.promises.end()) return;
  it->second.deliver(make_boxed<write_result>(std::move(r)));
  self->state.promises.erase(it);
}

/// Keeps the promise of the request being handled until its write commits.
std::uint64_t remember(self_ptr self, caf::response_promise rp) {
  auto id = self->state.next_request++;
  self->state.promises.emplace(id, std::move(rp));
  return id;
}

void arm_timer(self_ptr self) {
  auto& st = self->state;
  if (st.scheduled.empty()) return;
  millis due = st.scheduled.front().run_at;
  if (st.armed_tick != 0 && st.armed_tick <= due) return;
  st.armed_tick = due;
  millis delay = std::max<millis>(0, due - now_ms());
  self->delayed_send(self, std::chrono::milliseconds(delay), tick_atom::value);
}

/// Puts a committed pending task where the dispatcher will find it.
/// A type's dispatch state, its window to be read from the store. `cfg` is null for a type
/// removed from the config (its tasks run one at a time and fail with a clear error).
type_state& add_type_state(self_ptr self, const std::string& name, const type_config* cfg) {
  auto& ts = self->state.types[name];
  ts.cfg = cfg;
  ts.ready = bounded_window<ready_entry>(self->state.deps.window_capacity);
  ts.ready.mark_incomplete();
  return ts;
}

void place(self_ptr self, const task& t) {
  auto& st = self->state;
  if (t.run_at > now_ms()) {
    st.scheduled.offer({t.run_at, t.id});
    arm_timer(self);
  } else if (t.mode == task_mode::sync) {
    st.sync_ready.offer({t.priority, t.id});
  } else if (auto it = st.types.find(t.type); it != st.types.end()) {
    it->second.ready.offer({t.priority, t.id});
  } else if (const type_config* tc = find_type(*st.deps.cfg, t.type)) {
    // A type declared at run time (Faktory auto_types): its first task.
    add_type_state(self, t.type, tc).ready.offer({t.priority, t.id});
  }
}

void release_worker_turn(self_ptr self) {
  auto& st = self->state;
  st.sync_for_worker.reset();
  st.sync_busy = false;
}

void forget(self_ptr self, const task& t) {
  auto& st = self->state;
  if (st.sync_for_worker && st.sync_for_worker->entry.id == t.id) release_worker_turn(self);
  st.scheduled.erase({t.run_at, t.id});
  if (t.mode == task_mode::sync)
    st.sync_ready.erase({t.priority, t.id});
  else if (auto it = st.types.find(t.type); it != st.types.end())
    it->second.ready.erase({t.priority, t.id});
}

/// Keeps the pending ledger and the windows in step with one committed change.
void account(self_ptr self, commit_kind kind, const task_change& ch) {
  auto& st = self->state;
  if (ch.existed) {
    st.gate->add_pending(ch.after.type, -1); // reserved at admission, nothing created
    return;
  }
  bool was_pending = ch.before && *ch.before == task_status::pending;
  bool is_pending = !ch.deleted && ch.after.status == task_status::pending;
  if (ch.before) {
    if (was_pending && !is_pending) st.gate->add_pending(ch.after.type, -1);
    if (!was_pending && is_pending) st.gate->add_pending(ch.after.type, +1);
  }
  if (kind == commit_kind::cancel) forget(self, ch.after);
  if (is_pending && kind != commit_kind::start) place(self, ch.after);
}

void release_slot(self_ptr self, task_id id) {
  auto& st = self->state;
  auto it = st.running.find(id);
  if (it == st.running.end()) return;
  if (it->second.sync)
    st.sync_busy = false;
  else if (auto t = st.types.find(it->second.type); t != st.types.end())
    t->second.running -= 1;
  st.running.erase(it);
  if (st.draining && st.running.empty()) {
    for (auto& p : st.drain_waiters) p.deliver(true);
    st.drain_waiters.clear();
  }
}

/// The handler starts as soon as the start transition is applied, while its batch syncs:
/// the outcome is recorded by a later write, which the writer orders after the start.
void start(self_ptr self, const ready_entry& entry, const std::string& type, bool sync,
           const lease_grant* lease = nullptr, std::uint64_t batch = 0) {
  auto& st = self->state;
  st.running.emplace(entry.id, running_task{type, sync, {}, false, lease != nullptr});
  if (sync)
    st.sync_busy = true;
  else
    st.types[type].running += 1;
  commit_event applied{commit_kind::start};
  applied.id = entry.id;
  commit_event durable{commit_kind::start_durable};
  durable.id = entry.id;
  durable.entry = entry;
  durable.sync_lane = sync;
  durable.type = type;
  durable.lease_batch = batch;
  std::optional<lease_grant> grant;
  if (lease) grant = *lease;
  // A sync start learns the type here: one of a worker type is not started but handed
  // back, to wait for a worker's lease with the lane held.
  const config* cfg = sync && !lease ? st.deps.cfg.get() : nullptr;
  if (cfg) durable.needs_worker = std::make_shared<std::string>();
  auto apply = [paused = sync ? st.paused : nullptr, grant, cfg,
                needs_worker = durable.needs_worker](task& t) -> status {
    if (paused && paused->count(t.type))
      return make_error(errc::conflict, "type " + t.type + " is paused");
    if (grant) return grant_lease(t, *grant, now_ms());
    if (cfg) {
      const type_config* tc = find_type(*cfg, t.type);
      if (tc && tc->handler == handler_kind::worker) {
        *needs_worker = t.type;
        return make_error(errc::conflict, "waits for a worker");
      }
    }
    return start_attempt(t, now_ms());
  };
  st.deps.db->submit(update_op{entry.id, std::move(apply), true},
                     post_commit(self, std::move(durable)), post_commit(self, std::move(applied)));
}

void on_start_durable(self_ptr self, const commit_event& ev) {
  if (ev.lease_batch) return lease_started(self, ev);
  if (ev.result) return;
  auto& st = self->state;
  if (ev.needs_worker && !ev.needs_worker->empty()) {
    st.running.erase(ev.id); // not started; the lane stays busy for this task
    st.sync_for_worker = scheduler_state::worker_turn{*ev.entry, *ev.needs_worker};
    serve_parked(self);
    return;
  }
  auto code = ev.result.err().code;
  if (code == errc::conflict || code == errc::not_found) {
    // Cancelled or deleted since it was indexed, or a stale window entry: never applied,
    // so no handler runs. Not an error.
    release_slot(self, ev.id);
    return;
  }
  // Applied but not written: the handler runs, but its outcome will not match the
  // record (still pending), so the task stays in the ready index: offer it again.
  // A full disk is logged once by the store, not per refused start.
  if (ev.result.err().code != errc::storage_full)
    spdlog::error("start of task {} was not written: {}", ev.id, ev.result.err().message);
  note_write_failure(self, ev.result.err());
  // Refused before it applied (the store was known to be full): no handler runs.
  if (auto it = st.running.find(ev.id); it != st.running.end() && !it->second.actor)
    release_slot(self, ev.id);
  if (ev.sync_lane)
    st.sync_ready.offer(*ev.entry);
  else if (auto it = st.types.find(ev.type); it != st.types.end())
    it->second.ready.offer(*ev.entry);
}

void request_refill(self_ptr self, bool sync_lane, bool schedule, const std::string& type,
                    std::size_t limit, std::optional<ready_entry> ready_after,
                    std::optional<scheduled_entry> schedule_after) {
  store* db = self->state.deps.db;
  auto handle = caf::actor_cast<caf::actor>(self);
  // Reads block: they run on a detached actor's own thread.
  self->spawn<caf::detached>([=](caf::blocking_actor*) {
    refill_event ev;
    ev.sync_lane = sync_lane;
    ev.schedule = schedule;
    ev.type = type;
    ev.asked = limit;
    if (schedule)
      ev.scheduled = db->schedule_page(schedule_after, limit);
    else
      ev.ready =
          db->ready_page(sync_lane ? task_mode::sync : task_mode::async, type, ready_after, limit);
    caf::anon_send(handle, refilled_atom::value, make_boxed<refill_event>(std::move(ev)));
  });
}

void refill_if_low(self_ptr self) {
  auto& st = self->state;
  if (st.sync_ready.wants_refill()) {
    st.sync_ready.begin_refill();
    request_refill(self, true, false, "", st.sync_ready.capacity(), st.sync_ready.refill_after(),
                   std::nullopt);
  }
  for (auto& [name, ts] : st.types) {
    if (!ts.ready.wants_refill()) continue;
    ts.ready.begin_refill();
    request_refill(self, false, false, name, ts.ready.capacity(), ts.ready.refill_after(),
                   std::nullopt);
  }
  if (!st.promoting && st.scheduled.wants_refill()) {
    st.scheduled.begin_refill();
    request_refill(self, false, true, "", st.scheduled.capacity(), std::nullopt,
                   st.scheduled.refill_after());
  }
}

void arm_space_check(self_ptr self) {
  auto& st = self->state;
  if (st.space_check_armed) return;
  st.space_check_armed = true;
  self->delayed_send(self, store::space_retry, space_atom::value);
}

void on_space_check(self_ptr self) {
  auto& st = self->state;
  st.space_check_armed = false;
  if (st.deps.db->out_of_space()) return arm_space_check(self);
  for (task_id id : st.unrecorded) {
    auto apply = [](task& t) -> status {
      if (t.status != task_status::in_progress) return make_error(errc::conflict, "not running");
      auto r = stall_attempt(t, "the attempt's outcome could not be written (disk full)", now_ms());
      return r ? ok_status() : status(r.err());
    };
    commit_event ev{commit_kind::finish};
    ev.id = id;
    st.deps.db->submit(update_op{id, std::move(apply), true}, post_commit(self, std::move(ev)));
  }
  st.unrecorded.clear();
}

/// A write failed for lack of space: come back once there is some (no busy retries).
void note_write_failure(self_ptr self, const error& e) {
  if (e.code == errc::storage_full) arm_space_check(self);
}

void dispatch(self_ptr self) {
  auto& st = self->state;
  if (st.draining) return;
  if (st.deps.db->out_of_space()) return arm_space_check(self); // starts would be refused
  // A refused start still in flight holds its task in `running`, and a re-read would
  // skip it: restart the lane only when nothing of it is in flight.
  if (st.sync_restart && !st.sync_busy && !st.sync_ready.loading()) {
    st.sync_restart = false;
    st.sync_ready.mark_incomplete();
  }
  while (!st.sync_busy && !st.sync_ready.empty()) {
    auto e = st.sync_ready.pop_front();
    if (st.running.count(e.id)) continue;
    // The type is read from the record when the start commits.
    start(self, e, "", true);
  }
  for (auto& [name, ts] : st.types) {
    if (st.paused->count(name)) continue;
    if (ts.cfg && ts.cfg->handler == handler_kind::worker) continue; // leased, not pushed
    const std::int32_t limit = ts.cfg ? ts.cfg->concurrency : 1;
    while (ts.running < limit && !ts.ready.empty()) {
      auto e = ts.ready.pop_front();
      if (st.running.count(e.id)) continue;
      start(self, e, name, false);
    }
  }
  serve_parked(self);
  refill_if_low(self);
}

void on_started(self_ptr self, commit_event& ev) {
  auto& st = self->state;
  if (!ev.result) return; // only successful applies are reported; see on_start_durable
  const task& t = ev.result->front().after;
  account(self, commit_kind::start, ev.result->front());
  auto it = st.running.find(t.id);
  if (it == st.running.end()) return;
  it->second.type = t.type;
  if (it->second.remote) return; // the lease answer hands it to the worker once durable
  const type_config* tc = find_type(*st.deps.cfg, t.type);
  if (!tc) {
    // A type removed from the config since the task was created.
    auto out = make_boxed<handler_outcome>();
    out->error = "task type " + t.type + " is not configured";
    out->retryable = false;
    self->send(self, outcome_atom::value, t.id, out);
    return;
  }
  if (is_instant_builtin(tc->handler)) {
    // No task actor to spawn, supervise and hear from (that was most of a noop task's
    // scheduler time).
    finish_attempt(self, t.id, run_instant_builtin(tc->handler, t));
    return;
  }
  // The event is ours alone: hand its record to the task actor without copying it.
  auto actor = spawn_task_actor(
      self, std::make_shared<const task>(std::move(ev.result->front().after)), *tc);
  it->second.actor = actor.address();
}

void finish_attempt(self_ptr self, task_id id, handler_outcome out) {
  auto& st = self->state;
  auto it = st.running.find(id);
  if (it == st.running.end() || it->second.reported) return;
  it->second.reported = true;
  commit_event ev{commit_kind::finish};
  ev.id = id;
  auto apply = [out = std::move(out)](task& t) mutable -> status {
    millis now = now_ms();
    if (t.status == task_status::in_progress && (!out.detail.is_null() || !out.log.empty()))
      record_attempt_output(t, std::move(out.detail), out.log);
    if (out.success) return complete_attempt(t, std::move(out.result), now);
    auto r = fail_attempt(t, std::move(out.error), out.retryable, now);
    if (!r) return r.err();
    return ok_status();
  };
  st.deps.db->submit(update_op{id, std::move(apply), true}, post_commit(self, std::move(ev)));
  // The slot frees now: the next start joins the same group commit as this finish.
  release_slot(self, id);
  dispatch(self);
}

void set_paused(self_ptr self, const std::string& type, bool paused) {
  auto& st = self->state;
  auto next = std::make_shared<std::set<std::string, std::less<>>>(*st.paused);
  if (paused) {
    next->insert(type);
    // The task stays pending and indexed; the lane is read again when the type resumes.
    if (st.sync_for_worker && st.sync_for_worker->type == type) release_worker_turn(self);
  } else {
    next->erase(type);
    // Sync tasks of the type met refused starts while it was paused: read the lane again
    // (in dispatch, once no start or read of the lane is in flight).
    st.sync_restart = true;
  }
  st.paused = std::move(next);
}

void bulk_read(self_ptr self, std::uint64_t job_id);

void bulk_done(self_ptr self, std::uint64_t job_id, bulk_result r) {
  auto& jobs = self->state.bulk_jobs;
  auto it = jobs.find(job_id);
  if (it == jobs.end()) return;
  it->second.rp.deliver(make_boxed<bulk_result>(std::move(r)));
  jobs.erase(it);
}

/// The next page of the job's current status, or the next status, or done.
void bulk_advance(self_ptr self, std::uint64_t job_id) {
  auto& job = self->state.bulk_jobs.at(job_id);
  if (!job.more) {
    job.status_index += 1;
    job.after = 0;
  }
  if (job.status_index >= job.statuses.size()) return bulk_done(self, job_id, job.count);
  bulk_read(self, job_id);
}

void bulk_read(self_ptr self, std::uint64_t job_id) {
  auto& job = self->state.bulk_jobs.at(job_id);
  list_filter f;
  f.type = job.req.type;
  f.status = job.statuses[job.status_index];
  f.after = job.after;
  f.limit = bulk_page_size;
  store* db = self->state.deps.db;
  auto handle = caf::actor_cast<caf::actor>(self);
  self->spawn<caf::detached>([=](caf::blocking_actor*) {
    auto page = make_boxed<bulk_page>();
    page->job = job_id;
    page->page = db->list(f);
    caf::anon_send(handle, bulk_page_atom::value, page);
  });
}

void on_bulk_page(self_ptr self, bulk_page& p) {
  auto& st = self->state;
  auto it = st.bulk_jobs.find(p.job);
  if (it == st.bulk_jobs.end()) return;
  auto& job = it->second;
  if (!p.page) return bulk_done(self, p.job, p.page.err());
  job.more = p.page->next_after.has_value();
  if (p.page->tasks.empty()) {
    job.more = false;
    return bulk_advance(self, p.job);
  }
  batch_op op;
  for (const auto& t : p.page->tasks) op.ids.push_back(t.id);
  job.after = op.ids.back();
  switch (job.req.action) {
  case bulk_action::retry: op.apply = [](task& t) { return retry_task(t, now_ms()); }; break;
  case bulk_action::cancel: op.apply = [](task& t) { return cancel_task(t, now_ms()); }; break;
  case bulk_action::clean:
    op.erase = true;
    op.apply = [cutoff = now_ms() - job.req.older_than_ms](task& t) {
      return check_finished_before(t, cutoff);
    };
    break;
  }
  commit_event ev{commit_kind::bulk};
  ev.bulk_job = p.job;
  st.deps.db->submit(std::move(op), post_commit(self, std::move(ev)));
}

void on_bulk_committed(self_ptr self, commit_event& ev) {
  auto& st = self->state;
  auto it = st.bulk_jobs.find(ev.bulk_job);
  if (it == st.bulk_jobs.end()) return;
  if (!ev.result) return bulk_done(self, ev.bulk_job, ev.result.err());
  auto kind = it->second.req.action == bulk_action::retry    ? commit_kind::retry
              : it->second.req.action == bulk_action::cancel ? commit_kind::cancel
                                                             : commit_kind::remove;
  for (auto& ch : *ev.result) account(self, kind, ch);
  it->second.count += ev.result->size();
  bulk_advance(self, ev.bulk_job);
  dispatch(self);
}

void on_bulk(self_ptr self, bulk_request req, caf::response_promise rp) {
  auto& st = self->state;
  if (st.draining && req.action == bulk_action::retry) {
    rp.deliver(make_boxed<bulk_result>(make_error(errc::shutting_down, "taskd is shutting down")));
    return;
  }
  bulk_job job;
  switch (req.action) {
  case bulk_action::retry: job.statuses = {task_status::failed, task_status::abandoned}; break;
  case bulk_action::cancel: job.statuses = {task_status::pending}; break;
  case bulk_action::clean:
    job.statuses = {task_status::completed, task_status::failed, task_status::abandoned,
                    task_status::cancelled};
    break;
  }
  job.req = std::move(req);
  job.rp = std::move(rp);
  auto id = st.next_bulk++;
  st.bulk_jobs.emplace(id, std::move(job));
  bulk_read(self, id);
}

void on_committed(self_ptr self, commit_event& ev) {
  auto& st = self->state;
  switch (ev.kind) {
  case commit_kind::create:
    if (!*ev.created) {
      for (auto& [type, n] : ev.reserved) st.gate->add_pending(type, -static_cast<std::int64_t>(n));
    } else {
      for (auto& ch : ev.created->value()) {
        // Answered over the admission bound: nothing was reserved, nothing to release.
        if (ch.existed && ev.reserved.empty()) continue;
        account(self, ev.kind, ch);
      }
    }
    break;
  case commit_kind::start: on_started(self, ev); break;
  case commit_kind::pause:
    if (ev.result) set_paused(self, ev.type, ev.paused);
    break;
  case commit_kind::bulk: on_bulk_committed(self, ev); return;
  case commit_kind::report:
  case commit_kind::expire: on_remote_committed(self, ev); break;
  case commit_kind::start_durable: on_start_durable(self, ev); break;
  case commit_kind::promote:
    st.promoting = false;
    if (!ev.result) {
      spdlog::error("promoting due tasks failed: {}", ev.result.err().message);
      // The due keys are still in the index: the next tick tries again.
      st.promote_again = true;
      self->delayed_send(self, std::chrono::seconds(1), tick_atom::value);
      break;
    }
    for (auto& ch : *ev.result) account(self, ev.kind, ch);
    if (ev.result->size() >= promote_batch || st.promote_again) promote_due(self);
    break;
  default:
    if (ev.result)
      for (auto& ch : *ev.result) {
        account(self, ev.kind, ch);
        if (ev.kind == commit_kind::finish && ch.after.status == task_status::completed)
          st.completed[ch.after.type].add(now_ms());
      }
    else if (ev.kind == commit_kind::finish) {
      spdlog::error("recording the outcome of task {} failed: {}", ev.id, ev.result.err().message);
      if (ev.result.err().code == errc::storage_full) st.unrecorded.insert(ev.id);
      note_write_failure(self, ev.result.err());
    }
    break;
  }
  if (ev.request) deliver(self, ev.request, std::move(ev.result));
  dispatch(self);
}

void on_refilled(self_ptr self, refill_event& ev) {
  auto& st = self->state;
  auto skip_running = [&](const auto& e) { return st.running.count(e.id) > 0; };
  if (ev.schedule) {
    if (!ev.scheduled) {
      spdlog::error("reading the schedule index failed: {}", ev.scheduled.err().message);
      st.scheduled.abort_refill();
    } else {
      st.scheduled.finish_refill(*ev.scheduled, ev.scheduled->size() < ev.asked, skip_running);
      arm_timer(self);
    }
  } else {
    bounded_window<ready_entry>* w = nullptr;
    if (ev.sync_lane)
      w = &st.sync_ready;
    else if (auto it = st.types.find(ev.type); it != st.types.end())
      w = &it->second.ready;
    if (!w) return;
    if (!ev.ready) {
      spdlog::error("reading the ready index failed: {}", ev.ready.err().message);
      w->abort_refill();
    } else {
      w->finish_refill(*ev.ready, ev.ready->size() < ev.asked, skip_running);
    }
  }
  dispatch(self);
}

/// One store operation moves due tasks to the ready index, a batch per commit; while it
/// is in flight the schedule window is not refilled (it would read the same due keys).
void promote_due(self_ptr self) {
  auto& st = self->state;
  if (st.promoting) {
    // Keys became due after the running pass started: it may not see them.
    st.promote_again = true;
    return;
  }
  st.promoting = true;
  st.promote_again = false;
  st.deps.db->submit(promote_op{promote_batch},
                     post_commit(self, commit_event{commit_kind::promote}));
}

void on_tick(self_ptr self) {
  auto& st = self->state;
  st.armed_tick = 0;
  millis now = now_ms();
  bool due = false;
  while (!st.scheduled.empty() && st.scheduled.front().run_at <= now) {
    st.scheduled.pop_front();
    due = true;
  }
  if (due || st.promote_again) promote_due(self);
  arm_timer(self);
  refill_if_low(self);
}

template <class Apply>
void submit_update(self_ptr self, commit_kind kind, task_id id, Apply apply,
                   caf::response_promise rp) {
  commit_event ev{kind};
  ev.id = id;
  ev.request = remember(self, std::move(rp));
  self->state.deps.db->submit(update_op{id, std::move(apply), true},
                              post_commit(self, std::move(ev)));
}

caf::behavior scheduler(self_ptr self, scheduler_deps deps, std::shared_ptr<create_gate> gate) {
  auto& st = self->state;
  st.deps = deps;
  st.gate = std::move(gate);
  st.paused = std::make_shared<const std::set<std::string, std::less<>>>(deps.db->paused_types());
  st.sync_ready = bounded_window<ready_entry>(deps.window_capacity);
  st.scheduled = bounded_window<scheduled_entry>(deps.window_capacity);
  st.sync_ready.mark_incomplete();
  st.scheduled.mark_incomplete();
  for (auto& [name, tc] : deps.cfg->types) add_type_state(self, name, &tc);
  for (auto& [type, counts] : deps.db->counts()) {
    auto pending = counts[static_cast<int>(task_status::pending)];
    if (pending == 0 || st.types.count(type)) continue;
    // A type declared at run time (restored before the scheduler starts), or one removed
    // from the config: the latter's tasks still dispatch, one at a time, and fail in
    // on_started with a clear error instead of staying pending forever.
    add_type_state(self, type, find_type(*deps.cfg, type));
  }

  self->set_down_handler([=](caf::down_msg& msg) {
    for (auto& [id, rt] : self->state.running) {
      if (rt.actor != msg.source || rt.reported) continue;
      handler_outcome out;
      out.error = "task actor exited without reporting: " + caf::to_string(msg.reason);
      finish_attempt(self, id, std::move(out));
      return;
    }
  });
  self->send(self, tick_atom::value);

  return {
      [=](cancel_atom, task_id id) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        submit_update(
            self, commit_kind::cancel, id, [](task& t) { return cancel_task(t, now_ms()); }, rp);
        return rp;
      },
      [=](retry_atom, task_id id) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        if (self->state.draining) {
          return make_boxed<write_result>(
              make_error(errc::shutting_down, "taskd is shutting down"));
        }
        submit_update(
            self, commit_kind::retry, id, [](task& t) { return retry_task(t, now_ms()); }, rp);
        return rp;
      },
      [=](delete_atom, task_id id) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        commit_event ev{commit_kind::remove};
        ev.id = id;
        ev.request = remember(self, rp);
        self->state.deps.db->submit(delete_op{id}, post_commit(self, std::move(ev)));
        return rp;
      },
      [=](promote_atom, task_id id) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        submit_update(
            self, commit_kind::retry, id, [](task& t) { return promote_task(t, now_ms()); }, rp);
        return rp;
      },
      [=](pause_atom, const std::string& type, bool paused) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        commit_event ev{commit_kind::pause};
        ev.type = type;
        ev.paused = paused;
        ev.request = remember(self, rp);
        self->state.deps.db->submit(pause_op{type, paused}, post_commit(self, std::move(ev)));
        return rp;
      },
      [=](bulk_atom, boxed<bulk_request> req) -> caf::result<boxed<bulk_result>> {
        auto rp = self->make_response_promise<boxed<bulk_result>>();
        on_bulk(self, std::move(*req), rp);
        return rp;
      },
      [=](bulk_page_atom, boxed<bulk_page> p) { on_bulk_page(self, *p); },
      [=](stats_atom) {
        auto s = make_boxed<scheduler_stats>();
        millis now = now_ms();
        for (auto& [name, c] : self->state.completed)
          s->completed_last_minute[name] = c.last_minute(now);
        s->paused = *self->state.paused;
        for (auto& [name, ts] : self->state.types)
          s->running_by_type[name] = static_cast<std::uint64_t>(ts.running);
        for (auto& [id, rt] : self->state.running)
          if (rt.sync && !rt.type.empty()) s->running_by_type[rt.type] += 1;
        return s;
      },
      [=](drain_atom, millis grace) -> caf::result<bool> {
        auto& st = self->state;
        st.draining = true;
        st.gate->close();
        if (st.running.empty()) return true;
        auto rp = self->make_response_promise<bool>();
        st.drain_waiters.push_back(rp);
        self->delayed_send(self, std::chrono::milliseconds(grace), grace_atom::value);
        return rp;
      },
      [=](grace_atom) {
        for (auto& p : self->state.drain_waiters) p.deliver(false);
        self->state.drain_waiters.clear();
      },
      [=](commits_atom) {
        for (auto& ev : self->state.gate->commits->take()) on_committed(self, ev);
      },
      [=](outcome_atom, task_id id, boxed<handler_outcome> out) { finish_attempt(self, id, *out); },
      [=](refilled_atom, boxed<refill_event> ev) { on_refilled(self, *ev); },
      [=](tick_atom) { on_tick(self); },
      [=](lease_atom, boxed<lease_request> req) -> caf::result<boxed<lease_reply>> {
        auto rp = self->make_response_promise<boxed<lease_reply>>();
        on_lease(self, *req, rp);
        return rp;
      },
      [=](lease_wait_atom, std::uint64_t id) {
        auto& parked = self->state.parked;
        auto it = parked.find(id);
        if (it == parked.end()) return;
        it->second.rp.deliver(make_boxed<lease_reply>(std::vector<task>{}));
        parked.erase(it);
      },
      [=](lease_tick_atom) { on_lease_tick(self); },
      [=](space_atom) {
        on_space_check(self);
        dispatch(self);
      },
      [=](report_atom, boxed<worker_call> call) -> caf::result<boxed<write_result>> {
        auto rp = self->make_response_promise<boxed<write_result>>();
        on_report(self, *call, rp);
        return rp;
      },
      [=](workers_atom) {
        auto list = make_boxed<worker_list>();
        for (auto& [id, w] : self->state.workers) list->push_back(w);
        return list;
      },
  };
}

} // namespace taskd::scheduling

namespace taskd {

scheduler_handles spawn_scheduler(caf::actor_system& sys, scheduler_deps deps) {
  // The ledger starts from the stored counts before any create can be admitted (one
  // admitted earlier would count twice once durable).
  auto gate = std::make_shared<create_gate>(*deps.cfg, deps.db);
  for (auto& [type, counts] : deps.db->counts())
    gate->add_pending(type,
                      static_cast<std::int64_t>(counts[static_cast<int>(task_status::pending)]));
  auto actor = sys.spawn(scheduling::scheduler, std::move(deps), gate);
  gate->open(actor.address());
  return {std::move(actor), std::move(gate)};
}

void submit_create(create_gate& gate, create_call call) {
  using scheduling::commit_event;
  using scheduling::commit_kind;
  std::map<std::string, std::uint64_t, std::less<>> wanted;
  bool has_keys = false;
  for (auto& t : call.tasks) {
    wanted[t.type] += 1;
    has_keys = has_keys || t.idempotency_key.has_value();
  }
  commit_event ev{commit_kind::create};
  create_op op{std::move(call.tasks), std::nullopt};
  auto [refused, scheduler] =
      gate.with_ledger([&](pending_ledger& pending, bool closed, caf::actor scheduler) {
        std::optional<error> refusal;
        if (closed || !scheduler) {
          refusal = make_error(errc::shutting_down, "taskd is shutting down");
        } else if (auto ok = pending.admit(wanted); !ok) {
          // A client repeating a create after a lost response must get its task back, not
          // 429: let the store answer the keys it knows and refuse only what would be new.
          if (!has_keys) refusal = ok.err();
          op.refuse_new = ok.err();
        } else {
          ev.reserved = std::move(wanted);
        }
        return std::make_pair(std::move(refusal), std::move(scheduler));
      });
  if (refused) return call.reply(std::make_shared<const write_result>(std::move(*refused)));
  gate.db->submit_shared(std::move(op),
                         scheduling::post_create_commit(std::move(scheduler), gate.commits,
                                                        std::move(ev), std::move(call.reply)),
                         std::move(call.prepare));
}

status restore_auto_types(const store& db, const config& cfg) {
  if (!cfg.auto_types) return ok_status();
  for (const auto& [type, counts] : db.counts()) {
    if (cfg.types.count(type)) continue;
    list_filter newest;
    newest.type = type;
    newest.limit = 1;
    newest.descending = true;
    auto page = db.list(newest);
    if (!page) return page.err();
    std::string queue = "default";
    if (!page->tasks.empty())
      if (auto* m = page->tasks.front().meta.if_object())
        if (auto* q = m->if_contains("queue"); q && q->is_string()) queue = q->get_string();
    if (!cfg.auto_types->declare(type, queue)) break;
  }
  return ok_status();
}

status recover_stalled(store& db) {
  auto stuck = db.tasks_with_status(task_status::in_progress, SIZE_MAX);
  if (!stuck) return stuck.err();
  for (const task& t : *stuck) {
    std::promise<write_result> done;
    auto fut = done.get_future();
    db.submit(update_op{t.id,
                        [](task& r) -> status {
                          auto e =
                              stall_attempt(r, "taskd restarted while the attempt ran", now_ms());
                          if (!e) return e.err();
                          return ok_status();
                        },
                        true},
              [&done](write_result r) { done.set_value(std::move(r)); });
    auto r = fut.get();
    if (!r) return r.err();
    spdlog::warn("task {} ({}) was in progress at the last stop: now {}", t.id, t.type,
                 to_string(r->front().after.status));
  }
  return ok_status();
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<boxed<write_result>>("taskd::boxed<write_result>");
  cfg.add_message_type<boxed<scheduler_stats>>("taskd::boxed<scheduler_stats>");
  cfg.add_message_type<boxed<handler_outcome>>("taskd::boxed<handler_outcome>");
  cfg.add_message_type<boxed<scheduling::refill_event>>("taskd::boxed<refill_event>");
  cfg.add_message_type<boxed<bulk_request>>("taskd::boxed<bulk_request>");
  cfg.add_message_type<boxed<bulk_result>>("taskd::boxed<bulk_result>");
  cfg.add_message_type<boxed<scheduling::bulk_page>>("taskd::boxed<bulk_page>");
  cfg.add_message_type<boxed<lease_request>>("taskd::boxed<lease_request>");
  cfg.add_message_type<boxed<lease_reply>>("taskd::boxed<lease_reply>");
  cfg.add_message_type<boxed<worker_call>>("taskd::boxed<worker_call>");
  cfg.add_message_type<boxed<worker_list>>("taskd::boxed<worker_list>");
}

} // namespace taskd
