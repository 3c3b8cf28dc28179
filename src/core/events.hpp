#pragma once
// The event stream's wire format and subscription filters, as plain functions.
//
// Server -> client messages:
//   {"event":"hello","seq":H}          on connect: live events follow from seq > H
//   {"seq":N,"event":"task","task":{}}  a create or transition, in change-log order
//   {"seq":N,"event":"deleted","id":I,"type":T}
//   {"event":"subscribed","seq":S}      a subscribe was applied; events follow from seq > S
//   {"event":"reset","seq":H}           changes were missed: reload over REST, resume at H
//   {"event":"error","error":{...}}     a client message was not understood
// Client -> server: {"subscribe":{"types":[..],"ids":[..],"statuses":[..]},"since":N}

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "src/core/error.hpp"
#include "src/core/task.hpp"

namespace taskd {

/// An empty set matches everything of that kind.
struct event_filter {
  std::set<std::string, std::less<>> types;
  std::set<task_id> ids;
  std::set<task_status> statuses;
};

bool matches(const event_filter& f, const task& t);

struct subscribe_request {
  event_filter filter;
  std::optional<std::uint64_t> since;
};

/// Parses one client message; errors name the field at fault.
result<subscribe_request> parse_subscribe(std::string_view text);

boost::json::object task_event_json(std::uint64_t seq, bool deleted, const task& t);
std::string encode_task_event(std::uint64_t seq, bool deleted, const task& t);
std::string encode_control_event(std::string_view event, std::uint64_t seq);
std::string encode_error_event(const error& e);

} // namespace taskd
