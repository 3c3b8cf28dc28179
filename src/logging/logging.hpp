#pragma once
// Logging: one spdlog logger (the default one, so every spdlog call goes through it) with
// three sinks, like the seed's Winston setup: the console (text or JSON lines),
// <dir>/combined.log (everything at the configured level) and <dir>/error.log (errors
// only), both JSON lines with size-based rotation. Writes go through a bounded async
// queue: a log burst never blocks the engine (when the queue is full the oldest pending
// lines are dropped).
//
// JSON lines: {"ts","level","msg", ...fields}. Fields come from `log_event`; messages from
// plain spdlog calls have none.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>
#include <spdlog/common.h>

#include "src/config/config.hpp"
#include "src/core/error.hpp"
#include "src/core/transition.hpp"

namespace taskd {

/// Installs the logger described by `cfg.logging` and `cfg.log_level` as spdlog's default.
/// `data_dir` anchors a relative log dir. Errors name the path that failed.
status setup_logging(const config& cfg);

struct log_field {
  const char* key;
  boost::json::value value;
};

/// A log line with structured fields (task_id, type, attempt, duration_ms, error, route...).
void log_event(spdlog::level::level_enum level, std::string_view msg,
               std::initializer_list<log_field> fields);

/// One line per task transition (info; deletions at debug), with task_id, type, attempt,
/// status and, where they apply, duration_ms and error.
void log_changes(const std::vector<observed_change>& changes);

/// Before exit: writes out every queued line and switches to synchronous logging, so
/// threads still running (a handler being abandoned) can log safely until the process ends.
void finish_logging();

/// Runtime level changes (admin API). False for an unknown level name.
bool set_log_level(std::string_view level);
std::string log_level_name();

} // namespace taskd
