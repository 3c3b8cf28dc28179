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

/// The API object's members in order: the one definition that to_json (a json::object) and
/// append_task_json (its serialized text, written directly) both follow.
template <class Out> void api_members(const task& t, Out& out) {
  out.number("id", t.id);
  out.string("type", t.type);
  out.value("payload", t.payload);
  out.string("status", to_string(t.status));
  out.string("mode", to_string(t.mode));
  out.number("priority", t.priority);
  out.number("attempts", t.attempts);
  out.number("max_attempts", t.max_attempts);
  out.backoff("backoff", to_string(t.backoff.kind), t.backoff.delay_ms);
  out.number("timeout_ms", t.timeout_ms);
  out.value("result", t.result);
  out.nullable_string("error", t.error);
  out.time("run_at", t.run_at);
  out.time("created_at", t.created_at);
  out.time("updated_at", t.updated_at);
  out.nullable_time("started_at", t.started_at);
  out.nullable_time("finished_at", t.finished_at);
  out.nullable_string("idempotency_key", t.idempotency_key);
  out.nullable_string("worker",
                      t.worker.empty() ? std::nullopt : std::optional<std::string>(t.worker));
  out.nullable_number("progress", t.progress);
}

struct object_out {
  json::object& o;
  template <class Int> void number(const char* k, Int v) { o[k] = v; }
  template <class Int> void nullable_number(const char* k, const std::optional<Int>& v) {
    o[k] = v ? json::value(*v) : json::value(nullptr);
  }
  void string(const char* k, std::string_view v) { o[k] = v; }
  void nullable_string(const char* k, const std::optional<std::string>& v) {
    o[k] = v ? json::value(*v) : json::value(nullptr);
  }
  void value(const char* k, const json::value& v) { o[k] = v; }
  void time(const char* k, millis ms) { o[k] = format_rfc3339(ms); }
  void nullable_time(const char* k, const std::optional<millis>& ms) {
    o[k] = ms ? json::value(format_rfc3339(*ms)) : json::value(nullptr);
  }
  void backoff(const char* k, const char* type, millis delay_ms) {
    o[k] = json::object{{"type", type}, {"delay_ms", delay_ms}};
  }
};

struct text_out {
  std::string& s;
  void key(const char* k) {
    s += s.back() == '{' ? "\"" : ",\"";
    s += k;
    s += "\":";
  }
  template <class Int> void number(const char* k, Int v) {
    key(k);
    append_int(s, v);
  }
  template <class Int> void nullable_number(const char* k, const std::optional<Int>& v) {
    if (v) return number(k, *v);
    key(k);
    s += "null";
  }
  void string(const char* k, std::string_view v) {
    key(k);
    append_json_string(s, v);
  }
  void nullable_string(const char* k, const std::optional<std::string>& v) {
    if (v) return string(k, std::string_view(*v));
    key(k);
    s += "null";
  }
  void time(const char* k, millis ms) { // RFC 3339 needs no escaping
    key(k);
    s += '"';
    append_rfc3339(s, ms);
    s += '"';
  }
  void nullable_time(const char* k, const std::optional<millis>& ms) {
    if (ms) return time(k, *ms);
    key(k);
    s += "null";
  }
  void value(const char* k, const json::value& v) {
    key(k);
    if (v.is_null()) {
      s += "null";
      return;
    }
    // Straight into the text, without serialize()'s string of its own.
    json::serializer sr;
    sr.reset(&v);
    char buf[512];
    while (!sr.done()) s.append(sr.read(buf, sizeof buf));
  }
  void backoff(const char* k, const char* type, millis delay_ms) {
    key(k);
    s += "{\"type\":";
    append_json_string(s, type);
    s += ",\"delay_ms\":";
    append_int(s, delay_ms);
    s += '}';
  }
};

} // namespace

json::object to_json(const task& t) {
  json::object o;
  o.reserve(20);
  object_out out{o};
  api_members(t, out);
  return o;
}

void append_task_json(std::string& out, const task& t) {
  out += '{';
  text_out text{out};
  api_members(t, text);
  out += '}';
}

// Storage encoding: a compact JSON object with integer timestamps. JSON keeps records
// readable with ldb and tolerant of added fields; decoding is strict about types.
std::string encode_task(const task& t) {
  std::string out;
  append_encoded_task(out, t);
  return out;
}

void append_encoded_task(std::string& out, const task& t) {
  // Written directly (not through a json::object): the store's writer encodes every task
  // it writes. Member order and bytes are those of the object it replaced; absent values
  // are left out.
  out.reserve(out.size() + 256 + t.log.size());
  out += '{';
  text_out o{out};
  o.number("id", t.id);
  o.string("ty", t.type);
  o.value("p", t.payload);
  o.number("s", static_cast<int>(t.status));
  o.number("m", static_cast<int>(t.mode));
  o.number("pr", t.priority);
  o.number("a", t.attempts);
  o.number("ma", t.max_attempts);
  o.number("bk", static_cast<int>(t.backoff.kind));
  o.number("bd", t.backoff.delay_ms);
  o.number("to", t.timeout_ms);
  if (!t.result.is_null()) o.value("r", t.result);
  if (t.error) o.string("e", *t.error);
  o.number("ra", t.run_at);
  o.number("ca", t.created_at);
  o.number("ua", t.updated_at);
  if (t.started_at) o.number("sa", *t.started_at);
  if (t.finished_at) o.number("fa", *t.finished_at);
  if (t.idempotency_key) o.string("ik", *t.idempotency_key);
  if (!t.attempt_detail.is_null()) o.value("ad", t.attempt_detail);
  if (!t.log.empty()) o.string("lg", t.log);
  // Every field round-trips exactly: the store's writer keeps decoded-equal copies of
  // what it wrote (record_cache.hpp), so a lease's expiry is kept even without its token.
  if (!t.lease_token.empty()) o.string("lt", t.lease_token);
  if (t.lease_expires_at != 0) o.number("le", t.lease_expires_at);
  if (!t.worker.empty()) o.string("wk", t.worker);
  if (t.progress) o.number("pg", *t.progress);
  if (!t.meta.is_null()) o.value("mt", t.meta);
  if (!t.change_seqs.empty()) {
    o.key("cs");
    out += '[';
    for (std::size_t i = 0; i < t.change_seqs.size(); ++i) {
      if (i) out += ',';
      append_int(out, t.change_seqs[i]);
    }
    out += ']';
  }
  out += '}';
}

namespace {

template <class T> bool read_int(const json::value& v, T& out) {
  if (auto* i = v.if_int64()) {
    out = static_cast<T>(*i);
    return true;
  }
  if (auto* u = v.if_uint64()) {
    out = static_cast<T>(*u);
    return true;
  }
  return false;
}

/// A storage key (one or two characters) as one number to switch on.
constexpr unsigned key_code(std::string_view k) {
  return k.size() == 1   ? static_cast<unsigned char>(k[0])
         : k.size() == 2 ? static_cast<unsigned char>(k[0]) << 8 | static_cast<unsigned char>(k[1])
                         : 0;
}

std::optional<std::string> string_of(json::value& v) {
  if (auto* s = v.if_string()) return std::string(*s);
  return std::nullopt;
}

} // namespace

// One pass over the parsed members, each moved out of the parse (the writer decodes
// every record it reads back).
std::optional<task> decode_task(std::string_view bytes) {
  boost::system::error_code ec;
  json::value v = parse_json(bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  task t;
  int status = 0, mode = 0, bk = 0;
  constexpr unsigned required_count = 13;
  unsigned required = 0; // one bit per required member present and well-typed
  auto need = [&](unsigned bit, bool ok) {
    if (ok) required |= 1u << bit;
  };
  for (auto& member : v.get_object()) {
    json::value& val = member.value();
    millis ms = 0;
    switch (key_code(member.key())) {
    case key_code("id"): need(0, read_int(val, t.id)); break;
    case key_code("ty"):
      if (auto* ty = val.if_string()) {
        t.type = std::string(*ty);
        need(1, true);
      }
      break;
    case key_code("s"): need(2, read_int(val, status)); break;
    case key_code("m"): need(3, read_int(val, mode)); break;
    case key_code("pr"): need(4, read_int(val, t.priority)); break;
    case key_code("a"): need(5, read_int(val, t.attempts)); break;
    case key_code("ma"): need(6, read_int(val, t.max_attempts)); break;
    case key_code("bk"): need(7, read_int(val, bk)); break;
    case key_code("bd"): need(8, read_int(val, t.backoff.delay_ms)); break;
    case key_code("to"): need(9, read_int(val, t.timeout_ms)); break;
    case key_code("ra"): need(10, read_int(val, t.run_at)); break;
    case key_code("ca"): need(11, read_int(val, t.created_at)); break;
    case key_code("ua"): need(12, read_int(val, t.updated_at)); break;
    case key_code("p"): t.payload = std::move(val); break;
    case key_code("r"): t.result = std::move(val); break;
    case key_code("ad"): t.attempt_detail = std::move(val); break;
    case key_code("mt"): t.meta = std::move(val); break;
    case key_code("e"):
      if (auto e = string_of(val)) t.error = std::move(e);
      break;
    case key_code("ik"):
      if (auto k = string_of(val)) t.idempotency_key = std::move(k);
      break;
    case key_code("lg"):
      if (auto lg = string_of(val)) t.log = std::move(*lg);
      break;
    case key_code("lt"):
      if (auto lt = string_of(val)) t.lease_token = std::move(*lt);
      break;
    case key_code("wk"):
      if (auto wk = string_of(val)) t.worker = std::move(*wk);
      break;
    case key_code("le"): read_int(val, t.lease_expires_at); break;
    case key_code("sa"):
      if (read_int(val, ms)) t.started_at = ms;
      break;
    case key_code("fa"):
      if (read_int(val, ms)) t.finished_at = ms;
      break;
    case key_code("pg"): {
      std::int32_t progress = 0;
      if (read_int(val, progress)) t.progress = progress;
      break;
    }
    case key_code("cs"): {
      auto* cs = val.if_array();
      if (!cs) break;
      t.change_seqs.reserve(cs->size());
      for (auto& seq : *cs) {
        if (auto* u = seq.if_uint64())
          t.change_seqs.push_back(*u);
        else if (auto* i = seq.if_int64(); i && *i > 0)
          t.change_seqs.push_back(static_cast<std::uint64_t>(*i));
        else
          return std::nullopt;
      }
      break;
    }
    default: break; // a member a later version added
    }
  }
  if (required != (1u << required_count) - 1) return std::nullopt;
  if (status < 0 || status >= task_status_count || mode < 0 || mode > 1 || bk < 0 || bk > 1)
    return std::nullopt;
  t.status = static_cast<task_status>(status);
  t.mode = static_cast<task_mode>(mode);
  t.backoff.kind = static_cast<backoff_kind>(bk);
  return t;
}

} // namespace taskd
