#include "actors/bridge_actor.hpp"

#include <map>

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"

namespace taskd {

namespace {

constexpr std::size_t page_size = 512;                          // change-log entries per read
constexpr auto catchup_interval = std::chrono::milliseconds(5); // while someone replays

struct subscriber {
  std::weak_ptr<event_sink> sink;
  event_filter filter;
  std::uint64_t cursor = 0; // the last seq this subscriber was given (or skipped)
};

struct bridge_state {
  static inline const char* name = "bridge";
  bridge_deps deps;
  std::map<subscriber_id, subscriber> subs;
  std::uint64_t head = 0; // every subscriber at this cursor is live
  bool catchup_armed = false;
};

using self_ptr = caf::stateful_actor<bridge_state>*;

event_message message(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

void leave(self_ptr self, subscriber_id id) {
  if (self->state.subs.erase(id) > 0) self->state.deps.subscribers->fetch_sub(1);
}

/// The subscriber missed changes (or would queue too many): it reloads and resumes at head.
void reset(self_ptr self, subscriber& sub, event_sink& sink) {
  sub.cursor = self->state.head;
  sink.replace_backlog(message(encode_control_event("reset", sub.cursor)));
}

/// Queues `msgs` unless that overflows the subscriber's queue; false if it was reset.
bool offer(self_ptr self, subscriber& sub, event_sink& sink, std::vector<event_message>& msgs) {
  if (msgs.empty()) return true;
  if (sink.backlog() + msgs.size() > self->state.deps.cfg.max_queued) {
    reset(self, sub, sink);
    return false;
  }
  sink.push(std::move(msgs));
  msgs.clear();
  return true;
}

/// Matching events of `page`, each serialized at most once across subscribers.
struct page_messages {
  const std::vector<change_entry>& page;
  std::vector<event_message> encoded = std::vector<event_message>(page.size());
  std::vector<event_message> for_filter(const event_filter& f) {
    std::vector<event_message> out;
    for (std::size_t i = 0; i < page.size(); ++i) {
      if (!matches(f, page[i].t)) continue;
      if (!encoded[i])
        encoded[i] = message(encode_task_event(page[i].seq, page[i].deleted, page[i].t));
      out.push_back(encoded[i]);
    }
    return out;
  }
};

std::shared_ptr<event_sink> sink_of(self_ptr self, subscriber_id id) {
  auto it = self->state.subs.find(id);
  if (it == self->state.subs.end()) return nullptr;
  auto sink = it->second.sink.lock();
  if (!sink) leave(self, id);
  return sink;
}

/// Reads (from, to] in pages; `visit(page)` for each. False if entries were trimmed away.
template <class Visit>
bool read_changes(self_ptr self, std::uint64_t from, std::uint64_t to, std::size_t max_pages,
                  Visit visit) {
  store* db = self->state.deps.db;
  for (std::size_t n = 0; from < to && n < max_pages; ++n) {
    auto page = db->changes_since(from, std::min<std::uint64_t>(page_size, to - from));
    if (!page) {
      spdlog::error("event stream: reading the change log failed: {}", page.err().message);
      return false;
    }
    if (page->empty() || page->front().seq != from + 1) return false; // trimmed
    while (!page->empty() && page->back().seq > to) page->pop_back();
    from = page->back().seq;
    visit(*page);
  }
  return true;
}

void on_head(self_ptr self, std::uint64_t new_head) {
  auto& st = self->state;
  if (new_head <= st.head) return;
  if (st.subs.empty()) {
    st.head = new_head;
    return;
  }
  std::uint64_t from = st.head;
  bool complete = read_changes(self, from, new_head, SIZE_MAX, [&](const auto& page) {
    page_messages pm{page};
    std::uint64_t page_from = page.front().seq - 1;
    for (auto it = st.subs.begin(); it != st.subs.end();) {
      auto& [id, sub] = *it++;
      if (sub.cursor != page_from) continue; // replaying, or reset: not live for this page
      auto sink = sink_of(self, id);
      if (!sink) continue;
      auto msgs = pm.for_filter(sub.filter);
      sub.cursor = page.back().seq;
      offer(self, sub, *sink, msgs); // a reset here resumes at page_from, by catch-up
    }
    st.head = page.back().seq;
  });
  st.head = new_head;
  for (auto it = st.subs.begin(); it != st.subs.end();) {
    auto& [id, sub] = *it++;
    if (sub.cursor == new_head) continue;
    if (!complete && sub.cursor >= from) {
      // Live subscribers whose changes could not be read: they must reload.
      if (auto sink = sink_of(self, id)) reset(self, sub, *sink);
    }
  }
}

void arm_catchup(self_ptr self) {
  auto& st = self->state;
  if (st.catchup_armed) return;
  st.catchup_armed = true;
  self->delayed_send(self, catchup_interval, catchup_atom::value);
}

/// Replaying subscribers move forward a page each, as far as their queues allow.
void on_catchup(self_ptr self) {
  auto& st = self->state;
  st.catchup_armed = false;
  bool behind = false;
  for (auto it = st.subs.begin(); it != st.subs.end();) {
    auto& [id, sub] = *it++;
    if (sub.cursor >= st.head) continue;
    auto sink = sink_of(self, id);
    if (!sink) continue;
    behind = true;
    if (sink->backlog() > st.deps.cfg.max_queued / 2) continue; // let it drain first
    bool ok = read_changes(self, sub.cursor, st.head, 1, [&](const auto& page) {
      page_messages pm{page};
      auto msgs = pm.for_filter(sub.filter);
      sub.cursor = page.back().seq;
      offer(self, sub, *sink, msgs);
    });
    if (!ok) reset(self, sub, *sink);
  }
  if (behind) arm_catchup(self);
}

void on_join(self_ptr self, subscriber_id id, std::shared_ptr<event_sink> sink) {
  auto& st = self->state;
  // Counted first: commits from now on notify; those before are read from the store here.
  st.deps.subscribers->fetch_add(1);
  on_head(self, st.deps.db->head_seq());
  st.subs[id] = subscriber{sink, {}, st.head};
  sink->push({message(encode_control_event("hello", st.head))});
}

void on_subscribe(self_ptr self, subscriber_id id, const subscribe_request& req) {
  auto& st = self->state;
  auto sink = sink_of(self, id);
  if (!sink) return;
  auto& sub = st.subs[id];
  sub.filter = req.filter;
  if (req.since) {
    std::uint64_t since = std::min(*req.since, st.head);
    // A seq from another data directory, or one the change log no longer holds.
    bool unknown = *req.since > st.deps.db->head_seq();
    bool trimmed = since + 1 < st.deps.db->oldest_seq() && since < st.head;
    if (unknown || trimmed) return reset(self, sub, *sink);
    sub.cursor = since;
  }
  sink->push({message(encode_control_event("subscribed", sub.cursor))});
  if (sub.cursor < st.head) arm_catchup(self);
}

caf::behavior bridge(self_ptr self, bridge_deps deps) {
  self->state.deps = std::move(deps);
  self->state.head = self->state.deps.db->head_seq();
  return {
      [=](head_atom, std::uint64_t seq) { on_head(self, seq); },
      [=](join_atom, subscriber_id id, boxed<std::shared_ptr<event_sink>> sink) {
        on_join(self, id, *sink);
      },
      [=](subscribe_atom, subscriber_id id, boxed<subscribe_request> req) {
        on_subscribe(self, id, *req);
      },
      [=](leave_atom, subscriber_id id) { leave(self, id); },
      [=](catchup_atom) { on_catchup(self); },
  };
}

} // namespace

caf::actor spawn_bridge(caf::actor_system& sys, bridge_deps deps) {
  store* db = deps.db;
  auto subscribers = deps.subscribers;
  auto handle = sys.spawn<caf::detached>(bridge, std::move(deps));
  // A weak reference: the store must not keep the actor (and the actor system) alive.
  caf::actor_addr addr = handle.address();
  // With nobody listening, commits do not wake the bridge's thread (a wake-up per group
  // commit is measurable on small VMs); a join reads the store's head itself.
  db->on_changes([addr, subscribers](std::uint64_t head) {
    if (subscribers->load(std::memory_order_relaxed) == 0) return;
    if (auto h = caf::actor_cast<caf::actor>(addr)) caf::anon_send(h, head_atom::value, head);
  });
  return handle;
}

void add_bridge_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<boxed<std::shared_ptr<event_sink>>>("taskd::boxed<event_sink>");
  cfg.add_message_type<boxed<subscribe_request>>("taskd::boxed<subscribe_request>");
}

} // namespace taskd
