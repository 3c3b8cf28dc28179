#include "src/core/attempts.hpp"

#include <boost/json.hpp>

#include "src/core/clock.hpp"
#include "src/core/transition.hpp"

namespace taskd {

namespace json = boost::json;

std::vector<attempt_record> attempts_from_timeline(const std::vector<task>& states) {
  std::vector<attempt_record> out;
  std::optional<std::size_t> open;
  for (std::size_t i = 0; i < states.size(); ++i) {
    const task& s = states[i];
    if (s.status == task_status::in_progress) {
      if (open && out[*open].attempt == s.attempts) continue; // the same attempt again
      if (open) out[*open].outcome = "lost";                  // its end was trimmed away
      attempt_record a;
      a.attempt = s.attempts;
      a.started_at = s.started_at.value_or(s.updated_at);
      a.outcome = "running";
      out.push_back(std::move(a));
      open = out.size() - 1;
      continue;
    }
    if (!open) continue;
    auto& a = out[*open];
    open.reset();
    a.ended_at = s.updated_at;
    a.detail = s.attempt_detail;
    auto kind = classify(task_status::in_progress, s, false, false);
    switch (kind) {
    case transition::completed: a.outcome = "completed"; break;
    case transition::failed:
    case transition::retry_scheduled: a.outcome = "failed"; break;
    case transition::stall_retried:
    case transition::abandoned: a.outcome = "stalled"; break;
    default: a.outcome = "lost"; break;
    }
    if (a.outcome != "completed") a.error = s.error;
  }
  return out;
}

json::array to_json(const std::vector<attempt_record>& attempts) {
  json::array arr;
  for (const auto& a : attempts) {
    json::object o;
    o["attempt"] = a.attempt;
    o["started_at"] = format_rfc3339(a.started_at);
    o["ended_at"] = a.ended_at ? json::value(format_rfc3339(*a.ended_at)) : json::value(nullptr);
    o["duration_ms"] = a.ended_at ? json::value(*a.ended_at - a.started_at) : json::value(nullptr);
    o["outcome"] = a.outcome;
    o["error"] = a.error ? json::value(*a.error) : json::value(nullptr);
    o["detail"] = a.detail;
    arr.push_back(std::move(o));
  }
  return arr;
}

} // namespace taskd
