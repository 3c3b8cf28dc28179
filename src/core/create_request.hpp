#pragma once
// Validation of POST /api/v1/tasks bodies: JSON in, a task ready for the store out.

#include <boost/json/value.hpp>

#include "src/config/config.hpp"
#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// An integer JSON value (an integral double counts) that fits int64; nullopt otherwise.
std::optional<std::int64_t> json_integer(const boost::json::value& v);

/// Turns one create request object into a new pending task, with the type's settings as
/// defaults. Errors are invalid_request (naming the field) or unknown_type (listing the
/// known types). Nothing is written here.
result<task> parse_create_request(const boost::json::value& body, const config& cfg, millis now);

/// `{"tasks": [...]}`: all valid or the first error, prefixed with the index (`tasks[3].type`).
result<std::vector<task>> parse_batch_request(const boost::json::value& body, const config& cfg,
                                              millis now);

} // namespace taskd
