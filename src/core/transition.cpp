#include "src/core/transition.hpp"

#include "src/core/lifecycle.hpp"

namespace taskd {

transition classify(const std::optional<task_status>& before, const task& after, bool deleted,
                    bool existed) {
  if (existed) return transition::none;
  if (deleted) return transition::deleted;
  if (!before) return transition::created;
  const task_status from = *before;
  const task_status to = after.status;
  if (from == to) return transition::none;
  switch (to) {
  case task_status::in_progress: return transition::started;
  case task_status::completed: return transition::completed;
  case task_status::failed: return transition::failed;
  case task_status::abandoned: return transition::abandoned;
  case task_status::cancelled: return transition::cancelled;
  case task_status::pending:
    if (from != task_status::in_progress) return transition::retried;
    return after.error && is_stall_error(*after.error) ? transition::stall_retried
                                                       : transition::retry_scheduled;
  }
  return transition::none;
}

const char* to_string(transition t) {
  switch (t) {
  case transition::none: return "none";
  case transition::created: return "created";
  case transition::started: return "started";
  case transition::completed: return "completed";
  case transition::failed: return "failed";
  case transition::retry_scheduled: return "retry_scheduled";
  case transition::stall_retried: return "stall_retried";
  case transition::abandoned: return "abandoned";
  case transition::retried: return "retried";
  case transition::cancelled: return "cancelled";
  case transition::deleted: return "deleted";
  }
  return "none";
}

} // namespace taskd
