#pragma once
// The builtin handlers, for tests, demos and benchmarks. Pure functions of the task.

#include "src/config/config.hpp"
#include "src/handlers/handlers.hpp"

namespace taskd {

/// noop: completes with null. echo: result = payload. fail: fails every attempt before
/// payload.until_attempt (always without it) with payload.message.
/// noop, echo and fail: run_instant_builtin returns their outcome at once, so they need
/// no task actor.
bool is_instant_builtin(handler_kind kind);
handler_outcome run_instant_builtin(handler_kind kind, const task& t);

/// sleep: how long payload.ms asks for (0 if absent or invalid).
millis sleep_duration(const task& t);

} // namespace taskd
