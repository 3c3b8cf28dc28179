#include "src/core/lease.hpp"

#include <random>

#include "src/core/faktory_job.hpp"

namespace taskd {

std::string new_lease_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) out[half * 16 + i] = hex[bits & 0xf];
  }
  return out;
}

status grant_lease(task& t, const lease_grant& g, millis now) {
  if (auto st = start_attempt(t, now); !st) return st;
  t.lease_token = g.token;
  t.worker = g.worker;
  // lease_ms 0: the length the task asked for (a Faktory job's reserve_for).
  t.lease_expires_at = now + (g.lease_ms > 0 ? g.lease_ms : faktory_reserve_ms(t));
  t.progress.reset();
  return ok_status();
}

status check_lease(const task& t, std::string_view token) {
  if (t.status != task_status::in_progress || t.lease_token.empty() || t.lease_token != token)
    return make_error(errc::lease_lost, "task " + std::to_string(t.id) +
                                            " is not leased with this token (the lease expired "
                                            "or the attempt already ended)");
  return ok_status();
}

status extend_lease(task& t, std::string_view token, std::optional<int> progress, millis lease_ms,
                    millis now) {
  if (auto st = check_lease(t, token); !st) return st;
  t.lease_expires_at = now + lease_ms;
  if (progress) t.progress = *progress;
  t.updated_at = now;
  return ok_status();
}

status complete_leased(task& t, std::string_view token, boost::json::value result, millis now) {
  if (auto st = check_lease(t, token); !st) return st;
  return complete_attempt(t, std::move(result), now);
}

result<attempt_end> fail_leased(task& t, std::string_view token, std::string error, bool retryable,
                                millis now) {
  if (auto st = check_lease(t, token); !st) return st.err();
  return fail_attempt(t, std::move(error), retryable, now);
}

status append_leased_log(task& t, std::string_view token, const std::vector<std::string>& lines) {
  if (auto st = check_lease(t, token); !st) return st;
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  record_attempt_output(t, t.attempt_detail, text);
  return ok_status();
}

result<attempt_end> expire_lease(task& t, std::string_view token, millis now) {
  if (auto st = check_lease(t, token); !st) return st.err();
  if (t.lease_expires_at > now) return make_error(errc::lease_lost, "the lease was extended");
  return stall_attempt(t, "lease of worker " + t.worker + " expired", now);
}

} // namespace taskd
