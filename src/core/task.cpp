#include "src/core/task.hpp"

#include <charconv>

#include <boost/json.hpp>

#include "src/core/clock.hpp"
#include "src/core/json_parse.hpp"

namespace json = boost::json;

namespace taskd {

const char* to_string(task_status s) {
  switch (s) {
  case task_status::pending: return "pending";
  case task_status::in_progress: return "in_progress";
  case task_status::completed: return "completed";
  case task_status::failed: return "failed";
  case task_status::abandoned: return "abandoned";
  case task_status::cancelled: return "cancelled";
  }
  return "pending";
}

const char* to_string(task_mode m) { return m == task_mode::sync ? "sync" : "async"; }

const char* to_string(backoff_kind k) { return k == backoff_kind::fixed ? "fixed" : "exponential"; }

std::optional<task_status> parse_task_status(std::string_view s) {
  for (int i = 0; i < task_status_count; ++i) {
    auto st = static_cast<task_status>(i);
    if (s == to_string(st)) return st;
  }
  return std::nullopt;
}

std::optional<task_mode> parse_task_mode(std::string_view s) {
  if (s == "async") return task_mode::async;
  if (s == "sync") return task_mode::sync;
  return std::nullopt;
}

std::optional<backoff_kind> parse_backoff_kind(std::string_view s) {
  if (s == "fixed") return backoff_kind::fixed;
  if (s == "exponential") return backoff_kind::exponential;
  return std::nullopt;
}

bool is_terminal(task_status s) {
  return s == task_status::completed || s == task_status::failed || s == task_status::abandoned ||
         s == task_status::cancelled;
}

namespace {

json::value time_or_null(const std::optional<millis>& ms) {
  if (!ms) return nullptr;
  return json::value(format_rfc3339(*ms));
}

json::value opt_string(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}

} // namespace

json::object to_json(const task& t) {
  json::object o;
  o.reserve(20);
  o["id"] = t.id;
  o["type"] = t.type;
  o["payload"] = t.payload;
  o["status"] = to_string(t.status);
  o["mode"] = to_string(t.mode);
  o["priority"] = t.priority;
  o["attempts"] = t.attempts;
  o["max_attempts"] = t.max_attempts;
  o["backoff"] =
      json::object{{"type", to_string(t.backoff.kind)}, {"delay_ms", t.backoff.delay_ms}};
  o["timeout_ms"] = t.timeout_ms;
  o["result"] = t.result;
  o["error"] = opt_string(t.error);
  o["run_at"] = format_rfc3339(t.run_at);
  o["created_at"] = format_rfc3339(t.created_at);
  o["updated_at"] = format_rfc3339(t.updated_at);
  o["started_at"] = time_or_null(t.started_at);
  o["finished_at"] = time_or_null(t.finished_at);
  o["idempotency_key"] = opt_string(t.idempotency_key);
  o["worker"] = t.worker.empty() ? json::value(nullptr) : json::value(t.worker);
  o["progress"] = t.progress ? json::value(*t.progress) : json::value(nullptr);
  return o;
}

namespace {

/// A JSON string literal exactly as boost::json::serialize writes it.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t clean = 0; // start of the run not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + clean, i - clean);
    clean = i + 1;
    out += '\\';
    switch (c) {
    case '"': out += '"'; break;
    case '\\': out += '\\'; break;
    case '\b': out += 'b'; break;
    case '\f': out += 'f'; break;
    case '\n': out += 'n'; break;
    case '\r': out += 'r'; break;
    case '\t': out += 't'; break;
    default:
      out += "u00";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  out.append(s.data() + clean, s.size() - clean);
  out += '"';
}

template <class Int> void append_int(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec; // 24 chars hold any 64-bit integer
  out.append(buf, end);
}

void append_time(std::string& out, millis ms) {
  out += '"';
  out += format_rfc3339(ms);
  out += '"';
}

} // namespace

void append_task_json(std::string& out, const task& t) {
  out += "{\"id\":";
  append_int(out, t.id);
  out += ",\"type\":";
  append_json_string(out, t.type);
  out += ",\"payload\":";
  out += json::serialize(t.payload);
  out += ",\"status\":\"";
  out += to_string(t.status);
  out += "\",\"mode\":\"";
  out += to_string(t.mode);
  out += "\",\"priority\":";
  append_int(out, t.priority);
  out += ",\"attempts\":";
  append_int(out, t.attempts);
  out += ",\"max_attempts\":";
  append_int(out, t.max_attempts);
  out += ",\"backoff\":{\"type\":\"";
  out += to_string(t.backoff.kind);
  out += "\",\"delay_ms\":";
  append_int(out, t.backoff.delay_ms);
  out += "},\"timeout_ms\":";
  append_int(out, t.timeout_ms);
  out += ",\"result\":";
  out += json::serialize(t.result);
  out += ",\"error\":";
  if (t.error)
    append_json_string(out, *t.error);
  else
    out += "null";
  out += ",\"run_at\":";
  append_time(out, t.run_at);
  out += ",\"created_at\":";
  append_time(out, t.created_at);
  out += ",\"updated_at\":";
  append_time(out, t.updated_at);
  out += ",\"started_at\":";
  if (t.started_at)
    append_time(out, *t.started_at);
  else
    out += "null";
  out += ",\"finished_at\":";
  if (t.finished_at)
    append_time(out, *t.finished_at);
  else
    out += "null";
  out += ",\"idempotency_key\":";
  if (t.idempotency_key)
    append_json_string(out, *t.idempotency_key);
  else
    out += "null";
  out += ",\"worker\":";
  if (!t.worker.empty())
    append_json_string(out, t.worker);
  else
    out += "null";
  out += ",\"progress\":";
  if (t.progress)
    append_int(out, *t.progress);
  else
    out += "null";
  out += '}';
}

// Storage encoding: a compact JSON object with integer timestamps. JSON keeps records
// readable with ldb and tolerant of added fields; decoding is strict about types.
std::string encode_task(const task& t) {
  // Written directly (not through a json::object): the store's writer encodes every task
  // it writes. Member order and bytes are those of the object it replaced.
  std::string out;
  out.reserve(256 + t.log.size());
  auto key = [&](const char* k) {
    out += out.empty() ? "{\"" : ",\"";
    out += k;
    out += "\":";
  };
  key("id");
  append_int(out, t.id);
  key("ty");
  append_json_string(out, t.type);
  key("p");
  out += json::serialize(t.payload);
  key("s");
  append_int(out, static_cast<int>(t.status));
  key("m");
  append_int(out, static_cast<int>(t.mode));
  key("pr");
  append_int(out, t.priority);
  key("a");
  append_int(out, t.attempts);
  key("ma");
  append_int(out, t.max_attempts);
  key("bk");
  append_int(out, static_cast<int>(t.backoff.kind));
  key("bd");
  append_int(out, t.backoff.delay_ms);
  key("to");
  append_int(out, t.timeout_ms);
  if (!t.result.is_null()) {
    key("r");
    out += json::serialize(t.result);
  }
  if (t.error) {
    key("e");
    append_json_string(out, *t.error);
  }
  key("ra");
  append_int(out, t.run_at);
  key("ca");
  append_int(out, t.created_at);
  key("ua");
  append_int(out, t.updated_at);
  if (t.started_at) {
    key("sa");
    append_int(out, *t.started_at);
  }
  if (t.finished_at) {
    key("fa");
    append_int(out, *t.finished_at);
  }
  if (t.idempotency_key) {
    key("ik");
    append_json_string(out, *t.idempotency_key);
  }
  if (!t.attempt_detail.is_null()) {
    key("ad");
    out += json::serialize(t.attempt_detail);
  }
  if (!t.log.empty()) {
    key("lg");
    append_json_string(out, t.log);
  }
  if (!t.lease_token.empty()) {
    key("lt");
    append_json_string(out, t.lease_token);
  }
  if (t.lease_expires_at != 0) {
    key("le");
    append_int(out, t.lease_expires_at);
  }
  if (!t.worker.empty()) {
    key("wk");
    append_json_string(out, t.worker);
  }
  if (t.progress) {
    key("pg");
    append_int(out, *t.progress);
  }
  if (!t.meta.is_null()) {
    key("mt");
    out += json::serialize(t.meta);
  }
  if (!t.change_seqs.empty()) {
    key("cs");
    out += '[';
    for (std::size_t i = 0; i < t.change_seqs.size(); ++i) {
      if (i) out += ',';
      append_int(out, t.change_seqs[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

namespace {

template <class T> bool read_int(const json::object& o, const char* key, T& out) {
  auto* v = o.if_contains(key);
  if (!v) return false;
  if (auto* i = v->if_int64()) {
    out = static_cast<T>(*i);
    return true;
  }
  if (auto* u = v->if_uint64()) {
    out = static_cast<T>(*u);
    return true;
  }
  return false;
}

} // namespace

std::optional<task> decode_task(std::string_view bytes) {
  boost::system::error_code ec;
  json::value v = parse_json(bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  task t;
  int status = 0, mode = 0, bk = 0;
  auto* ty = o.if_contains("ty");
  if (!read_int(o, "id", t.id) || !ty || !ty->is_string() || !read_int(o, "s", status) ||
      !read_int(o, "m", mode) || !read_int(o, "pr", t.priority) || !read_int(o, "a", t.attempts) ||
      !read_int(o, "ma", t.max_attempts) || !read_int(o, "bk", bk) ||
      !read_int(o, "bd", t.backoff.delay_ms) || !read_int(o, "to", t.timeout_ms) ||
      !read_int(o, "ra", t.run_at) || !read_int(o, "ca", t.created_at) ||
      !read_int(o, "ua", t.updated_at))
    return std::nullopt;
  if (status < 0 || status >= task_status_count || mode < 0 || mode > 1 || bk < 0 || bk > 1)
    return std::nullopt;
  t.type = std::string(ty->get_string());
  t.status = static_cast<task_status>(status);
  t.mode = static_cast<task_mode>(mode);
  t.backoff.kind = static_cast<backoff_kind>(bk);
  if (auto* p = o.if_contains("p")) t.payload = *p;
  if (auto* r = o.if_contains("r")) t.result = *r;
  if (auto* e = o.if_contains("e"); e && e->is_string()) t.error = std::string(e->get_string());
  if (auto* k = o.if_contains("ik"); k && k->is_string())
    t.idempotency_key = std::string(k->get_string());
  millis ms = 0;
  if (read_int(o, "sa", ms)) t.started_at = ms;
  if (read_int(o, "fa", ms)) t.finished_at = ms;
  if (auto* ad = o.if_contains("ad")) t.attempt_detail = *ad;
  if (auto* lg = o.if_contains("lg"); lg && lg->is_string()) t.log = std::string(lg->get_string());
  if (auto* lt = o.if_contains("lt"); lt && lt->is_string())
    t.lease_token = std::string(lt->get_string());
  read_int(o, "le", t.lease_expires_at);
  if (auto* wk = o.if_contains("wk"); wk && wk->is_string())
    t.worker = std::string(wk->get_string());
  std::int32_t progress = 0;
  if (read_int(o, "pg", progress)) t.progress = progress;
  if (auto* mt = o.if_contains("mt")) t.meta = *mt;
  if (auto* cs = o.if_contains("cs"); cs && cs->is_array()) {
    t.change_seqs.reserve(cs->get_array().size());
    for (auto& seq : cs->get_array()) {
      if (auto* u = seq.if_uint64())
        t.change_seqs.push_back(*u);
      else if (auto* i = seq.if_int64(); i && *i > 0)
        t.change_seqs.push_back(static_cast<std::uint64_t>(*i));
      else
        return std::nullopt;
    }
  }
  return t;
}

} // namespace taskd
