#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "src/core/task.hpp"

namespace taskd {

/// Wall-clock milliseconds since the Unix epoch.
millis now_ms();

/// "2026-11-28T03:04:05.123Z"
std::string format_rfc3339(millis ms);
/// The same, appended to `out` (24 characters: no string of its own per timestamp).
void append_rfc3339(std::string& out, millis ms);
/// The same text by gmtime_r and snprintf: format_rfc3339's path for years outside
/// 0..9999, and the reference its own arithmetic is tested against.
std::string format_rfc3339_libc(millis ms);

/// Accepts RFC3339 with optional fraction and `Z` or a numeric offset.
std::optional<millis> parse_rfc3339(std::string_view s);

} // namespace taskd
