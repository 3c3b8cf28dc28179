#include "mirror/rows.hpp"

#include <unordered_map>

#include <boost/json.hpp>

namespace taskd {

namespace json = boost::json;

std::vector<const change_entry*> newest_per_task(const std::vector<change_entry>& page) {
  std::unordered_map<task_id, std::size_t> newest;
  newest.reserve(page.size());
  for (std::size_t i = 0; i < page.size(); ++i) newest[page[i].t.id] = i;
  std::vector<const change_entry*> out;
  out.reserve(newest.size());
  for (std::size_t i = 0; i < page.size(); ++i)
    if (newest[page[i].t.id] == i) out.push_back(&page[i]);
  return out;
}

json::object mirror_row(const task& t, std::uint64_t seq) {
  json::object api = to_json(t);
  json::object row;
  row.reserve(16);
  for (const char* key :
       {"id", "type", "payload", "status", "result", "error", "created_at", "updated_at", "mode",
        "priority", "attempts", "max_attempts", "run_at", "started_at", "finished_at"})
    row[key] = std::move(api[key]);
  row["seq"] = seq;
  return row;
}

namespace {

bool has_nul(json::string_view s) { return s.find('\0') != json::string_view::npos; }

json::string without_nul(json::string_view s) {
  json::string out;
  for (char c : s) {
    if (c == '\0')
      out.append("\xEF\xBF\xBD");
    else
      out.push_back(c);
  }
  return out;
}

} // namespace

void replace_nul_chars(json::value& v) {
  if (auto* s = v.if_string()) {
    if (has_nul(*s)) *s = without_nul(*s);
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) replace_nul_chars(e);
  } else if (auto* o = v.if_object()) {
    bool keys_ok = true;
    for (auto& kv : *o) {
      replace_nul_chars(kv.value());
      if (has_nul(kv.key())) keys_ok = false;
    }
    if (!keys_ok) {
      json::object fixed;
      for (auto& kv : *o) fixed[without_nul(kv.key())] = std::move(kv.value());
      *o = std::move(fixed);
    }
  }
}

} // namespace taskd
