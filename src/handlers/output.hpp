#pragma once
// What exec and webhook share: turning raw output into results and errors.

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "src/handlers/handlers.hpp"

namespace taskd {

handler_outcome failed_outcome(std::string error, bool retryable = true);

std::string_view trim_space(std::string_view s);

/// Output ends up in JSON strings (results, errors), which must be valid UTF-8;
/// undecodable bytes become U+FFFD.
std::string to_valid_utf8(std::string_view s);

/// A successful run's output: JSON if it parses, else the trimmed text; empty is null.
boost::json::value output_to_json(std::string_view raw);

} // namespace taskd
