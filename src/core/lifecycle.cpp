#include "src/core/lifecycle.hpp"

#include <algorithm>

namespace taskd {

namespace {

constexpr millis max_backoff_ms = 30LL * 24 * 3600 * 1000;
constexpr std::string_view stall_prefix = "stalled: ";

error wrong_state(const task& t, const char* action) {
  return make_error(errc::conflict, std::string("cannot ") + action + " task " +
                                        std::to_string(t.id) + " in status " + to_string(t.status));
}

// An attempt's end ends its lease (remote workers): later calls with the token are refused.
void end_lease(task& t) {
  t.lease_token.clear();
  t.lease_expires_at = 0;
}

void finish(task& t, task_status s, millis now) {
  t.status = s;
  t.updated_at = now;
  t.finished_at = now;
}

} // namespace

millis backoff_delay(const backoff_policy& policy, int failed_attempt) {
  if (policy.delay_ms <= 0) return 0;
  if (policy.kind == backoff_kind::fixed) return std::min(policy.delay_ms, max_backoff_ms);
  int shift = std::max(0, failed_attempt - 1);
  if (shift >= 40) return max_backoff_ms;
  millis delay = policy.delay_ms << shift;
  return std::min(delay, max_backoff_ms);
}

status start_attempt(task& t, millis now) {
  if (t.status != task_status::pending) return wrong_state(t, "start");
  // A dispatch window can hold a stale entry of a task that went back to pending with a
  // later run_at (a retry's backoff): it must wait for its promotion, not start early.
  if (t.run_at > now)
    return make_error(errc::conflict, "task " + std::to_string(t.id) + " is not due yet");
  t.status = task_status::in_progress;
  t.attempts += 1;
  t.started_at = now;
  t.updated_at = now;
  return ok_status();
}

status complete_attempt(task& t, boost::json::value result, millis now) {
  if (t.status != task_status::in_progress) return wrong_state(t, "complete");
  end_lease(t);
  t.result = std::move(result);
  t.error.reset();
  finish(t, task_status::completed, now);
  return ok_status();
}

result<attempt_end> fail_attempt(task& t, std::string error, bool retryable, millis now) {
  if (t.status != task_status::in_progress) return wrong_state(t, "fail");
  end_lease(t);
  t.error = std::move(error);
  if (retryable && t.attempts < t.max_attempts) {
    t.status = task_status::pending;
    t.run_at = now + backoff_delay(t.backoff, t.attempts);
    t.updated_at = now;
    return attempt_end::retry_scheduled;
  }
  finish(t, task_status::failed, now);
  return attempt_end::failed;
}

void record_attempt_output(task& t, boost::json::value detail, std::string_view output) {
  t.attempt_detail = std::move(detail);
  const std::string prefix = "[attempt " + std::to_string(t.attempts) + "] ";
  while (!output.empty()) {
    auto nl = output.find('\n');
    auto line = output.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) {
      t.log += prefix;
      t.log += line;
      t.log += '\n';
    }
    if (nl == std::string_view::npos) break;
    output.remove_prefix(nl + 1);
  }
  if (t.log.size() > task_log_max_bytes) {
    // Drop whole lines from the front.
    auto cut = t.log.find('\n', t.log.size() - task_log_max_bytes);
    t.log.erase(0, cut == std::string::npos ? t.log.size() : cut + 1);
  }
}

bool is_stall_error(const std::string& error) { return error.rfind(stall_prefix, 0) == 0; }

result<attempt_end> stall_attempt(task& t, std::string reason, millis now) {
  if (t.status != task_status::in_progress) return wrong_state(t, "stall");
  end_lease(t);
  t.error = std::string(stall_prefix) + reason;
  if (t.attempts < t.max_attempts) {
    t.status = task_status::pending;
    t.run_at = now;
    t.updated_at = now;
    return attempt_end::retry_scheduled;
  }
  finish(t, task_status::abandoned, now);
  return attempt_end::failed;
}

status cancel_task(task& t, millis now) {
  if (t.status != task_status::pending) return wrong_state(t, "cancel");
  finish(t, task_status::cancelled, now);
  return ok_status();
}

status promote_task(task& t, millis now) {
  if (t.status != task_status::pending) return wrong_state(t, "promote");
  if (t.run_at <= now)
    return make_error(errc::conflict, "task " + std::to_string(t.id) + " is already due");
  t.run_at = now;
  t.updated_at = now;
  return ok_status();
}

status retry_task(task& t, millis now) {
  if (t.status != task_status::failed && t.status != task_status::abandoned)
    return wrong_state(t, "retry");
  t.status = task_status::pending;
  t.attempts = 0;
  t.run_at = now;
  t.updated_at = now;
  t.started_at.reset();
  t.finished_at.reset();
  t.result = nullptr;
  return ok_status();
}

status check_deletable(const task& t) {
  if (!is_terminal(t.status)) return wrong_state(t, "delete");
  return ok_status();
}

} // namespace taskd

namespace taskd {

status check_finished_before(const task& t, millis cutoff) {
  if (auto st = check_deletable(t); !st) return st;
  if (!t.finished_at || *t.finished_at >= cutoff)
    return make_error(errc::conflict, "task " + std::to_string(t.id) + " finished too recently");
  return ok_status();
}

} // namespace taskd
