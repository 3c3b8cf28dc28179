#include "src/core/events.hpp"
#include "src/core/json_parse.hpp"

#include <boost/json.hpp>

namespace taskd {

namespace json = boost::json;

bool matches(const event_filter& f, const task& t) {
  if (!f.types.empty() && f.types.find(t.type) == f.types.end()) return false;
  if (!f.ids.empty() && f.ids.find(t.id) == f.ids.end()) return false;
  if (!f.statuses.empty() && f.statuses.find(t.status) == f.statuses.end()) return false;
  return true;
}

namespace {

error bad(const std::string& what) { return make_error(errc::invalid_request, what); }

constexpr std::size_t max_filter_entries = 10000;

template <class Parse>
std::optional<error> read_list(const json::object& o, const char* key, Parse parse) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  std::string field = std::string("subscribe.") + key;
  if (!v->is_array()) return bad(field + ": must be an array");
  if (v->get_array().size() > max_filter_entries)
    return bad(field + ": at most " + std::to_string(max_filter_entries) + " entries");
  for (const auto& e : v->get_array())
    if (auto err = parse(e, field)) return err;
  return std::nullopt;
}

} // namespace

result<subscribe_request> parse_subscribe(std::string_view text) {
  json::error_code ec;
  json::value v = parse_json(text, ec);
  if (ec) return bad("message is not valid JSON: " + ec.message());
  if (!v.is_object()) return bad("message must be a JSON object");
  const auto& o = v.get_object();
  subscribe_request req;
  for (const auto& [key, value] : o) {
    if (key == "since") {
      if (!value.is_int64() && !value.is_uint64())
        return bad("since: must be a change-log sequence number");
      if (value.is_int64() && value.get_int64() < 0) return bad("since: must not be negative");
      req.since = value.is_uint64() ? value.get_uint64() : value.get_int64();
    } else if (key == "subscribe") {
      if (!value.is_object()) return bad("subscribe: must be an object");
      const auto& s = value.get_object();
      for (const auto& [k, _] : s)
        if (k != "types" && k != "ids" && k != "statuses")
          return bad("subscribe." + std::string(k) + ": unknown field");
      auto err = read_list(s, "types", [&](const json::value& e, const std::string& field) {
        if (!e.is_string()) return std::optional<error>(bad(field + ": must hold strings"));
        req.filter.types.emplace(e.get_string());
        return std::optional<error>();
      });
      if (!err)
        err = read_list(s, "ids", [&](const json::value& e, const std::string& field) {
          if (!e.is_int64() || e.get_int64() < 1)
            return std::optional<error>(bad(field + ": must hold task ids"));
          req.filter.ids.insert(static_cast<task_id>(e.get_int64()));
          return std::optional<error>();
        });
      if (!err)
        err = read_list(s, "statuses", [&](const json::value& e, const std::string& field) {
          auto st = e.is_string() ? parse_task_status(e.get_string()) : std::nullopt;
          if (!st) return std::optional<error>(bad(field + ": must hold task statuses"));
          req.filter.statuses.insert(*st);
          return std::optional<error>();
        });
      if (err) return *err;
    } else {
      return bad(std::string(key) + ": unknown field (expected subscribe, since)");
    }
  }
  return req;
}

json::object task_event_json(std::uint64_t seq, bool deleted, const task& t) {
  json::object o;
  o["seq"] = seq;
  if (deleted) {
    o["event"] = "deleted";
    o["id"] = t.id;
    o["type"] = t.type;
  } else {
    o["event"] = "task";
    o["task"] = to_json(t);
  }
  return o;
}

std::string encode_task_event(std::uint64_t seq, bool deleted, const task& t) {
  return json::serialize(task_event_json(seq, deleted, t));
}

std::string encode_control_event(std::string_view event, std::uint64_t seq) {
  return json::serialize(json::object{{"event", event}, {"seq", seq}});
}

std::string encode_error_event(const error& e) {
  return json::serialize(
      json::object{{"event", "error"},
                   {"error", json::object{{"code", errc_name(e.code)}, {"message", e.message}}}});
}

} // namespace taskd
