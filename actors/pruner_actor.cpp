#include "actors/pruner_actor.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "src/core/clock.hpp"

namespace taskd {

namespace {

using pass_atom = caf::atom_constant<caf::atom("pass")>;
using pruned_atom = caf::atom_constant<caf::atom("pruned")>;

struct pruner_state {
  static inline const char* name = "pruner";
  retention_config retention;
  store* db = nullptr;
  int outstanding = 0; // prune ops of the current pass not yet answered
  bool more = false;   // some op filled its batch: run the next pass at once
};

void run_pass(caf::stateful_actor<pruner_state>* self) {
  auto& st = self->state;
  auto plan = prune_plan(st.retention, now_ms());
  if (plan.empty()) return;
  st.outstanding = static_cast<int>(plan.size());
  st.more = false;
  auto handle = caf::actor_cast<caf::actor>(self);
  for (auto& op : plan) {
    std::size_t limit = op.limit;
    st.db->submit(op, [handle, limit](write_result r) {
      // Writer thread: report and return.
      bool full = r.ok() && r->size() >= limit;
      std::string err = r.ok() ? std::string() : r.err().message;
      std::size_t n = r.ok() ? r->size() : 0;
      caf::anon_send(handle, pruned_atom::value, full, n, err);
    });
  }
}

caf::behavior pruner(caf::stateful_actor<pruner_state>* self, retention_config retention,
                     store* db) {
  self->state.retention = retention;
  self->state.db = db;
  self->send(self, pass_atom::value);
  return {
      [=](pass_atom) {
        run_pass(self);
        if (self->state.outstanding == 0)
          self->delayed_send(self,
                             std::chrono::milliseconds(self->state.retention.prune_interval_ms),
                             pass_atom::value);
      },
      [=](pruned_atom, bool full, std::size_t n, const std::string& err) {
        auto& st = self->state;
        if (!err.empty()) spdlog::error("pruning finished tasks failed: {}", err);
        if (n > 0) spdlog::debug("pruned {} finished tasks", n);
        st.more = st.more || full;
        if (--st.outstanding > 0) return;
        auto pause = st.more ? std::chrono::milliseconds(0)
                             : std::chrono::milliseconds(st.retention.prune_interval_ms);
        self->delayed_send(self, pause, pass_atom::value);
      },
  };
}

} // namespace

std::vector<prune_op> prune_plan(const retention_config& r, millis now) {
  std::vector<prune_op> plan;
  auto add = [&](task_status s, millis keep_ms, std::uint64_t keep_max) {
    if (keep_ms == 0 && keep_max == 0) return;
    prune_op op;
    op.status = s;
    op.finished_before = keep_ms == 0 ? 0 : now - keep_ms;
    op.keep_max = keep_max;
    op.limit = r.prune_batch;
    plan.push_back(op);
  };
  add(task_status::completed, r.completed_ms, r.completed_max);
  add(task_status::failed, r.failed_ms, r.failed_max);
  add(task_status::abandoned, r.failed_ms, r.failed_max);
  add(task_status::cancelled, r.cancelled_ms, r.cancelled_max);
  return plan;
}

caf::actor spawn_pruner(caf::actor_system& sys, const retention_config& retention, store* db) {
  return sys.spawn(pruner, retention, db);
}

} // namespace taskd
