#pragma once
// What one committed change of a task means, for counting and logging. Plain logic over
// the before/after states the store reports.

#include <optional>

#include "src/core/task.hpp"

namespace taskd {

enum class transition {
  none,            // not a status change (an index move, an idempotent repeat)
  created,         // -> pending
  started,         // pending -> in_progress
  completed,       // in_progress -> completed
  failed,          // in_progress -> failed: the last attempt failed (or was not retryable)
  retry_scheduled, // in_progress -> pending after a failed attempt, with backoff
  stall_retried,   // in_progress -> pending: the runner was lost, attempts remain
  abandoned,       // in_progress -> abandoned: the runner was lost on the last attempt
  retried,         // failed | abandoned -> pending, by request
  cancelled,       // pending -> cancelled
  deleted,         // removed (by request or retention)
};

transition classify(const std::optional<task_status>& before, const task& after, bool deleted,
                    bool existed);

/// One committed change, as its observers (metrics, logs) see it.
struct observed_change {
  std::optional<task_status> before;
  const task* after = nullptr;
  bool deleted = false;
  bool existed = false;
  transition kind() const { return classify(before, *after, deleted, existed); }
};

const char* to_string(transition t);

} // namespace taskd
