#pragma once
// A task's attempt history, derived from its timeline (the change-log states of the task,
// oldest first): each start opens an attempt, the next change closes it.

#include <optional>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "src/core/task.hpp"

namespace taskd {

struct attempt_record {
  std::int32_t attempt = 0;
  millis started_at = 0;
  std::optional<millis> ended_at;
  std::string outcome; // running | completed | failed | stalled | lost
  std::optional<std::string> error;
  boost::json::value detail; // the handler's: exit code, signal, HTTP status
};

std::vector<attempt_record> attempts_from_timeline(const std::vector<task>& states);

/// [{"attempt","started_at","ended_at","duration_ms","outcome","error","detail"}]
boost::json::array to_json(const std::vector<attempt_record>& attempts);

} // namespace taskd
