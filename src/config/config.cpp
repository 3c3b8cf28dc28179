#include "src/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

#include <toml++/toml.h>

#include "src/config/auto_types.hpp"

namespace taskd {

// Generated at build time from config/taskd.toml (cmake/embed_text.cmake).
extern const char* const default_config_toml;

namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// Every problem found in one document. Each line starts with the dotted key at fault.
class problems {
public:
  void add(const std::string& key, const std::string& what) { lines_.push_back(key + ": " + what); }
  bool empty() const { return lines_.empty(); }

  std::string joined() const {
    std::string out;
    for (const auto& line : lines_) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    return out;
  }

private:
  std::vector<std::string> lines_;
};

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Renders a key the way TOML would accept it in a dotted key, so `types."a.b".mode` in an
// error message is unambiguous and non-printable bytes never reach a terminal raw.
std::string quote_key(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key) bare = bare && is_bare_key_char(c);
  if (bare) return std::string(key);
  std::string out = "\"";
  for (unsigned char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string join_key(const std::string& parent, std::string_view key) {
  return parent.empty() ? quote_key(key) : parent + "." + quote_key(key);
}

const char* type_name(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::table: return "a table";
  case toml::node_type::array: return "an array";
  case toml::node_type::string: return "a string";
  case toml::node_type::integer: return "an integer";
  case toml::node_type::floating_point: return "a floating-point number";
  case toml::node_type::boolean: return "a boolean";
  case toml::node_type::date: return "a date";
  case toml::node_type::time: return "a time";
  case toml::node_type::date_time: return "a date-time";
  case toml::node_type::none: break;
  }
  return "nothing";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// Reports every key of `table` not in `allowed`, suggesting the closest allowed key for
// likely typos: a misspelt key would otherwise be silently ignored and its default used.
void check_keys(const toml::table& table, const std::string& path,
                std::initializer_list<std::string_view> allowed, problems& out) {
  for (auto&& [key, node] : table) {
    (void)node;
    std::string_view name = key.str();
    std::string_view best;
    std::size_t best_distance = 3; // suggest only within two edits
    bool known = false;
    for (std::string_view candidate : allowed) {
      if (candidate == name) known = true;
      std::size_t d = edit_distance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (known) continue;
    std::string what = "unknown key";
    if (!best.empty()) what += " (did you mean \"" + std::string(best) + "\"?)";
    out.add(join_key(path, name), what);
  }
}

std::string range_text(std::int64_t lo, std::int64_t hi) {
  if (hi == int64_max) return "must be an integer >= " + std::to_string(lo);
  return "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi);
}

// Optional integer `key` in [lo, hi]; `out` keeps its default when the key is absent.
template <class T>
void read_int(const toml::table& table, std::string_view key, const std::string& path,
              std::int64_t lo, std::int64_t hi, T& out, problems& errs) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return;
  std::string full = join_key(path, key);
  const auto* value = node->as_integer();
  if (value == nullptr) {
    errs.add(full, range_text(lo, hi) + ", got " + type_name(*node));
    return;
  }
  std::int64_t v = value->get();
  if (v < lo || v > hi) {
    errs.add(full, range_text(lo, hi) + ", got " + std::to_string(v));
    return;
  }
  out = static_cast<T>(v);
}

// Optional string `key`; nullopt when absent or of the wrong type (the latter reported).
std::optional<std::string> read_string(const toml::table& table, std::string_view key,
                                       const std::string& path, problems& errs) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* value = node->as_string()) return value->get();
  errs.add(join_key(path, key), std::string("must be a string, got ") + type_name(*node));
  return std::nullopt;
}

// Optional sub-table `key`; nullptr when absent or of the wrong type (the latter reported).
const toml::table* read_table(const toml::table& table, std::string_view key,
                              const std::string& path, problems& errs) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return nullptr;
  if (const auto* value = node->as_table()) return value;
  errs.add(join_key(path, key), std::string("must be a table, got ") + type_name(*node));
  return nullptr;
}

void read_log_level(const toml::table& root, config& cfg, problems& errs) {
  auto level = read_string(root, "log_level", "", errs);
  if (!level) return;
  for (std::string_view known : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (*level == known) {
      cfg.log_level = *level;
      return;
    }
  }
  errs.add("log_level",
           "must be one of trace, debug, info, warn, error, critical, off, got \"" + *level + "\"");
}

void read_server(const toml::table& root, server_config& server, problems& errs) {
  const std::string path = "server";
  const toml::table* table = read_table(root, "server", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path,
             {"listen", "data_dir", "max_body_bytes", "api_token", "metrics_require_token",
              "max_connections", "request_timeout_ms"},
             errs);
  read_int(*table, "max_connections", path, 1, 1000000, server.max_connections, errs);
  read_int(*table, "request_timeout_ms", path, 100, 3600000, server.request_timeout_ms, errs);
  if (auto token = read_string(*table, "api_token", path, errs)) server.api_token = *token;
  if (const toml::node* m = table->get("metrics_require_token")) {
    if (const auto* b = m->as_boolean())
      server.metrics_require_token = b->get();
    else
      errs.add(path + ".metrics_require_token",
               std::string("must be true or false, got ") + type_name(*m));
  }
  if (auto listen = read_string(*table, "listen", path, errs)) {
    auto parsed = parse_listen(*listen);
    if (parsed) {
      server.host = parsed->first;
      server.port = parsed->second;
    } else {
      errs.add(path + ".listen", parsed.err().message);
    }
  }
  if (auto data_dir = read_string(*table, "data_dir", path, errs)) {
    if (data_dir->empty()) {
      errs.add(path + ".data_dir", "must not be empty");
    } else {
      server.data_dir = *data_dir;
    }
  }
  read_int(*table, "max_body_bytes", path, 1, 1073741824, server.max_body_bytes, errs);
}

void read_limits(const toml::table& root, limits_config& limits, problems& errs) {
  const std::string path = "limits";
  const toml::table* table = read_table(root, "limits", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"max_pending", "max_batch", "shutdown_grace_ms", "min_free_disk_mb"},
             errs);
  read_int(*table, "min_free_disk_mb", path, 0, 1048576, limits.min_free_disk_mb, errs);
  read_int(*table, "max_pending", path, 1, int64_max, limits.max_pending, errs);
  read_int(*table, "max_batch", path, 1, 100000, limits.max_batch, errs);
  read_int(*table, "shutdown_grace_ms", path, 0, 3600000, limits.shutdown_grace_ms, errs);
}

void read_retention(const toml::table& root, retention_config& r, problems& errs) {
  const std::string path = "retention";
  const toml::table* table = read_table(root, "retention", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path,
             {"completed_ms", "completed_max", "failed_ms", "failed_max", "cancelled_ms",
              "cancelled_max", "change_log_max", "prune_batch", "prune_interval_ms"},
             errs);
  constexpr std::int64_t ten_years_ms = 10LL * 365 * 86400000;
  read_int(*table, "completed_ms", path, 0, ten_years_ms, r.completed_ms, errs);
  read_int(*table, "completed_max", path, 0, int64_max, r.completed_max, errs);
  read_int(*table, "failed_ms", path, 0, ten_years_ms, r.failed_ms, errs);
  read_int(*table, "failed_max", path, 0, int64_max, r.failed_max, errs);
  read_int(*table, "cancelled_ms", path, 0, ten_years_ms, r.cancelled_ms, errs);
  read_int(*table, "cancelled_max", path, 0, int64_max, r.cancelled_max, errs);
  read_int(*table, "change_log_max", path, 1000, int64_max, r.change_log_max, errs);
  read_int(*table, "prune_batch", path, 1, 100000, r.prune_batch, errs);
  read_int(*table, "prune_interval_ms", path, 10, 3600000, r.prune_interval_ms, errs);
}

void read_logging(const toml::table& root, logging_config& lg, problems& errs) {
  const std::string path = "logging";
  const toml::table* table = read_table(root, "logging", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"dir", "console", "files", "max_file_bytes", "max_files"}, errs);
  if (auto dir = read_string(*table, "dir", path, errs)) lg.dir = *dir;
  if (auto console = read_string(*table, "console", path, errs)) {
    if (*console == "text" || *console == "json" || *console == "off")
      lg.console = *console;
    else
      errs.add("logging.console",
               "must be \"text\", \"json\" or \"off\", got \"" + *console + "\"");
  }
  if (const toml::node* files = table->get("files")) {
    if (const auto* b = files->as_boolean())
      lg.files = b->get();
    else
      errs.add("logging.files", std::string("must be true or false, got ") + type_name(*files));
  }
  read_int(*table, "max_file_bytes", path, 4096, int64_max, lg.max_file_bytes, errs);
  read_int(*table, "max_files", path, 1, 1000, lg.max_files, errs);
}

void read_events(const toml::table& root, events_config& ev, problems& errs) {
  const std::string path = "events";
  const toml::table* table = read_table(root, "events", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"max_queued", "idle_timeout_ms", "max_subscribers"}, errs);
  read_int(*table, "max_queued", path, 16, 1000000, ev.max_queued, errs);
  read_int(*table, "idle_timeout_ms", path, 1000, 3600000, ev.idle_timeout_ms, errs);
  read_int(*table, "max_subscribers", path, 1, 100000, ev.max_subscribers, errs);
}

// The URL from `env` when set (secrets stay out of the file), else the file's.
std::optional<std::string> mirror_url(const toml::table& table, const std::string& path,
                                      const char* env, problems& errs) {
  auto url = read_string(table, "url", path, errs);
  if (const char* from_env = std::getenv(env); from_env != nullptr && *from_env != '\0')
    url = from_env;
  if (!url || url->empty()) {
    errs.add(path + ".url", std::string("required (or set ") + env + ")");
    return std::nullopt;
  }
  return url;
}

bool valid_sql_identifier(std::string_view name) {
  if (name.empty() || name.size() > 63 || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void read_postgres_mirror(const toml::table& bridge, bridge_config& out, problems& errs) {
  const std::string path = "bridge.postgres";
  const toml::table* table = read_table(bridge, "postgres", "bridge", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"url", "table", "batch"}, errs);
  postgres_mirror_config pg;
  if (auto url = mirror_url(*table, path, "TASKD_PG_URL", errs)) pg.url = *url;
  if (auto name = read_string(*table, "table", path, errs)) {
    auto dot = name->find('.');
    bool ok = dot == std::string::npos
                  ? valid_sql_identifier(*name)
                  : valid_sql_identifier(std::string_view(*name).substr(0, dot)) &&
                        valid_sql_identifier(std::string_view(*name).substr(dot + 1));
    if (ok)
      pg.table = *name;
    else
      errs.add(path + ".table", "must be a name like tasks or schema.tasks (letters, digits, _)");
  }
  read_int(*table, "batch", path, 1, 10000, pg.batch, errs);
  out.postgres = std::move(pg);
}

void read_redis_mirror(const toml::table& bridge, bridge_config& out, problems& errs) {
  const std::string path = "bridge.redis";
  const toml::table* table = read_table(bridge, "redis", "bridge", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"url", "prefix", "stream_maxlen", "batch"}, errs);
  redis_mirror_config rd;
  if (auto url = mirror_url(*table, path, "TASKD_REDIS_URL", errs)) {
    auto endpoint = parse_redis_url(*url);
    if (endpoint) {
      rd.url = *url;
      rd.endpoint = *endpoint;
    } else {
      errs.add(path + ".url", endpoint.err().message);
    }
  }
  if (auto prefix = read_string(*table, "prefix", path, errs)) {
    if (prefix->empty())
      errs.add(path + ".prefix", "must not be empty");
    else
      rd.prefix = *prefix;
  }
  read_int(*table, "stream_maxlen", path, 1, int64_max, rd.stream_maxlen, errs);
  read_int(*table, "batch", path, 1, 10000, rd.batch, errs);
  out.redis = std::move(rd);
}

void read_faktory(const toml::table& root, config& cfg, problems& errs) {
  const std::string path = "faktory";
  const toml::table* table = read_table(root, "faktory", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"listen", "password", "allow_flush", "auto_types"}, errs);
  faktory_config fk;
  if (auto listen = read_string(*table, "listen", path, errs)) {
    auto parsed = parse_listen(*listen);
    if (parsed) {
      fk.host = parsed->first;
      fk.port = parsed->second;
    } else {
      errs.add(path + ".listen", parsed.err().message);
    }
  }
  if (auto pw = read_string(*table, "password", path, errs)) fk.password = *pw;
  for (auto [key, flag] :
       {std::pair{"allow_flush", &fk.allow_flush}, std::pair{"auto_types", &fk.auto_types}}) {
    const toml::node* node = table->get(key);
    if (!node) continue;
    if (const auto* b = node->as_boolean())
      *flag = b->get();
    else
      errs.add(path + "." + key, std::string("must be true or false, got ") + type_name(*node));
  }
  if (fk.auto_types) cfg.auto_types = std::make_shared<auto_type_registry>();
  cfg.faktory = std::move(fk);
}

void read_bridge(const toml::table& root, bridge_config& br, problems& errs) {
  const std::string path = "bridge";
  const toml::table* table = read_table(root, "bridge", "", errs);
  if (table == nullptr) return;
  check_keys(*table, path, {"postgres", "redis", "retry_min_ms", "retry_max_ms", "linger_ms"},
             errs);
  read_int(*table, "linger_ms", path, 0, 60000, br.linger_ms, errs);
  read_int(*table, "retry_min_ms", path, 1, 3600000, br.retry_min_ms, errs);
  read_int(*table, "retry_max_ms", path, 1, 3600000, br.retry_max_ms, errs);
  if (br.retry_max_ms < br.retry_min_ms)
    errs.add(path + ".retry_max_ms", "must not be below retry_min_ms");
  read_postgres_mirror(*table, br, errs);
  read_redis_mirror(*table, br, errs);
}

bool type_name_ok(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!is_bare_key_char(c) && c != '.') return false;
  }
  return true;
}

std::optional<handler_kind> parse_handler_kind(std::string_view s) {
  for (handler_kind k :
       {handler_kind::noop, handler_kind::echo, handler_kind::sleep, handler_kind::fail,
        handler_kind::exec, handler_kind::webhook, handler_kind::worker}) {
    if (s == to_string(k)) return k;
  }
  return std::nullopt;
}

// Returns whether the handler is known; command/url rules depend on it.
bool read_handler(const toml::table& table, const std::string& path, type_config& type,
                  problems& errs) {
  const toml::node* node = table.get("handler");
  if (node == nullptr) {
    // Required: a type that silently did nothing would hide a config mistake.
    errs.add(path + ".handler", "is required (builtin:noop | builtin:echo | builtin:sleep | "
                                "builtin:fail | exec | webhook | worker)");
    return false;
  }
  auto name = read_string(table, "handler", path, errs);
  if (!name) return false;
  if (auto kind = parse_handler_kind(*name)) {
    type.handler = *kind;
    return true;
  }
  errs.add(path + ".handler", "unknown handler \"" + *name +
                                  "\" (expected builtin:noop, builtin:echo, builtin:sleep, "
                                  "builtin:fail, exec, webhook or worker)");
  return false;
}

void read_mode(const toml::table& table, const std::string& path, type_config& type,
               problems& errs) {
  auto mode = read_string(table, "mode", path, errs);
  if (!mode) return;
  if (auto parsed = parse_task_mode(*mode)) {
    type.mode = *parsed;
  } else {
    errs.add(path + ".mode", "must be \"async\" or \"sync\", got \"" + *mode + "\"");
  }
}

void read_backoff(const toml::table& table, const std::string& path, type_config& type,
                  problems& errs) {
  const toml::node* node = table.get("backoff");
  if (node == nullptr) return;
  const std::string key = path + ".backoff";
  const toml::table* backoff = node->as_table();
  if (backoff == nullptr) {
    errs.add(key, std::string("must be a table like { type = \"exponential\", delay_ms = 1000 }, "
                              "got ") +
                      type_name(*node));
    return;
  }
  check_keys(*backoff, key, {"type", "delay_ms"}, errs);
  if (auto kind = read_string(*backoff, "type", key, errs)) {
    if (auto parsed = parse_backoff_kind(*kind)) {
      type.backoff.kind = *parsed;
    } else {
      errs.add(key + ".type", "must be \"fixed\" or \"exponential\", got \"" + *kind + "\"");
    }
  }
  read_int(*backoff, "delay_ms", key, 0, 86400000, type.backoff.delay_ms, errs);
}

// argv for exec: a non-empty array of non-empty strings (never a shell command line).
void read_command(const toml::table& table, const std::string& path, type_config& type,
                  problems& errs) {
  const toml::node* node = table.get("command");
  if (node == nullptr) return;
  const std::string key = path + ".command";
  const toml::array* array = node->as_array();
  if (array == nullptr || array->empty()) {
    errs.add(key, std::string("must be a non-empty array of strings (argv), got ") +
                      (array == nullptr ? type_name(*node) : "an empty array"));
    return;
  }
  std::vector<std::string> argv;
  bool ok = true;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_key = key + "[" + std::to_string(i) + "]";
    if (const auto* s = element.as_string(); s == nullptr) {
      errs.add(element_key, std::string("must be a string, got ") + type_name(element));
      ok = false;
    } else if (s->get().empty()) {
      errs.add(element_key, "must not be empty");
      ok = false;
    } else {
      argv.push_back(s->get());
    }
  }
  if (ok) type.command = std::move(argv);
}

void read_url(const toml::table& table, const std::string& path, type_config& type,
              problems& errs) {
  auto url = read_string(table, "url", path, errs);
  if (!url) return;
  const std::string key = path + ".url";
  constexpr std::string_view http = "http://";
  if (url->rfind("https://", 0) == 0) {
    errs.add(key, "https:// is not supported; use an http:// URL");
  } else if (url->rfind(http, 0) != 0) {
    errs.add(key, "must start with http://, got \"" + *url + "\"");
  } else if (url->size() == http.size() || (*url)[http.size()] == '/') {
    errs.add(key, "must name a host (http://host[:port]/path), got \"" + *url + "\"");
  } else {
    type.url = *url;
  }
}

void check_handler_fields(const toml::table& table, const std::string& path,
                          const type_config& type, problems& errs) {
  bool is_exec = type.handler == handler_kind::exec;
  bool is_webhook = type.handler == handler_kind::webhook;
  if (table.contains("command") && !is_exec) {
    errs.add(path + ".command", "only allowed with handler = \"exec\"");
  }
  if (table.contains("url") && !is_webhook) {
    errs.add(path + ".url", "only allowed with handler = \"webhook\"");
  }
  if (is_exec && !table.contains("command")) {
    errs.add(path + ".command", "required with handler = \"exec\" (an argv array)");
  }
  if (is_webhook && !table.contains("url")) {
    errs.add(path + ".url", "required with handler = \"webhook\"");
  }
}

type_config read_type(std::string_view name, const toml::table& table, problems& errs) {
  const std::string path = join_key("types", name);
  type_config type;
  type.name = std::string(name);
  check_keys(table, path,
             {"handler", "command", "url", "concurrency", "mode", "max_attempts", "backoff",
              "timeout_ms", "max_pending", "queue"},
             errs);
  bool handler_known = read_handler(table, path, type, errs);
  read_command(table, path, type, errs);
  read_url(table, path, type, errs);
  if (handler_known) check_handler_fields(table, path, type, errs);
  read_int(table, "concurrency", path, 1, 10000, type.concurrency, errs);
  read_mode(table, path, type, errs);
  if (auto queue = read_string(table, "queue", path, errs)) {
    if (type.handler != handler_kind::worker)
      errs.add(path + ".queue", "only allowed with handler = \"worker\"");
    else if (!valid_queue_name(*queue))
      errs.add(path + ".queue", "must be a non-empty name without spaces");
    else
      type.queue = *queue;
  }
  read_int(table, "max_attempts", path, 1, 1000, type.max_attempts, errs);
  read_backoff(table, path, type, errs);
  read_int(table, "timeout_ms", path, 1, 86400000, type.timeout_ms, errs);
  std::uint64_t max_pending = 0;
  if (table.contains("max_pending")) {
    read_int(table, "max_pending", path, 1, int64_max, max_pending, errs);
    if (max_pending > 0) type.max_pending = max_pending;
  }
  return type;
}

void read_types(const toml::table& root, config& cfg, problems& errs) {
  const toml::table* types = read_table(root, "types", "", errs);
  if (types == nullptr && root.contains("types")) return; // wrong type, already reported
  if (types == nullptr || types->empty()) {
    errs.add("types", "at least one task type must be configured");
    return;
  }
  for (auto&& [key, node] : *types) {
    std::string_view name = key.str();
    const std::string path = join_key("types", name);
    if (!type_name_ok(name)) {
      errs.add(path, "type name must match [A-Za-z0-9_.-]{1,64}");
      continue;
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      errs.add(path, std::string("must be a table, got ") + type_name(node));
      continue;
    }
    cfg.types.emplace(std::string(name), read_type(name, *table, errs));
  }
}

error config_error(std::string message) {
  return make_error(errc::invalid_request, std::move(message));
}

} // namespace

const char* to_string(handler_kind k) {
  switch (k) {
  case handler_kind::noop: return "builtin:noop";
  case handler_kind::echo: return "builtin:echo";
  case handler_kind::sleep: return "builtin:sleep";
  case handler_kind::fail: return "builtin:fail";
  case handler_kind::exec: return "exec";
  case handler_kind::webhook: return "webhook";
  case handler_kind::worker: return "worker";
  }
  return "builtin:noop";
}

result<config> parse_config(std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return config_error(std::string(source_name) + ":" + std::to_string(where.line) + ":" +
                        std::to_string(where.column) + ": " + std::string(e.description()));
  }
  config cfg;
  problems errs;
  check_keys(root, "",
             {"log_level", "server", "logging", "limits", "retention", "events", "bridge",
              "faktory", "types"},
             errs);
  read_log_level(root, cfg, errs);
  read_server(root, cfg.server, errs);
  // The token may come from the environment, keeping it out of the file.
  if (const char* token = std::getenv("TASKD_API_TOKEN"); token != nullptr && *token != '\0')
    cfg.server.api_token = token;
  read_limits(root, cfg.limits, errs);
  read_retention(root, cfg.retention, errs);
  read_events(root, cfg.events, errs);
  read_bridge(root, cfg.bridge, errs);
  read_faktory(root, cfg, errs);
  read_logging(root, cfg.logging, errs);
  read_types(root, cfg, errs);
  if (!errs.empty()) return config_error(errs.joined());
  return cfg;
}

result<config> load_config_file(const std::string& path) {
  auto close = [](std::FILE* f) { std::fclose(f); };
  std::unique_ptr<std::FILE, decltype(close)> file(std::fopen(path.c_str(), "rb"), close);
  if (!file) {
    return config_error("cannot open config file " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, file.get())) > 0) text.append(buf, n);
  // fread reports a directory (EISDIR) or an I/O error only through ferror.
  if (std::ferror(file.get())) {
    return config_error("cannot read config file " + path + ": " + std::strerror(errno));
  }
  return parse_config(text, path);
}

config default_config() {
  auto parsed = parse_config(default_config_toml, "<embedded config/taskd.toml>");
  if (!parsed) {
    throw std::logic_error("embedded default configuration is invalid:\n" + parsed.err().message);
  }
  return std::move(parsed).value();
}

result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view listen) {
  const std::string quoted = "\"" + std::string(listen) + "\"";
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return config_error("must be host:port (e.g. 127.0.0.1:8080), got " + quoted);
  }
  std::string_view host = listen.substr(0, colon);
  std::string_view port_text = listen.substr(colon + 1);
  // An IPv6 literal is written [::1]:8080; the brackets are URL syntax, not the address.
  bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (host.empty()) return config_error("host must not be empty in " + quoted);
  // Catches URLs and stray punctuation ("http://x:80") here rather than at bind time.
  for (char c : host) {
    bool ok = is_bare_key_char(c) || c == '.' || (bracketed && (c == ':' || c == '%'));
    if (!ok) {
      return config_error("must be host:port with a hostname or IP address as host, got " + quoted);
    }
  }
  if (port_text.empty() || port_text.size() > 5) {
    return config_error("port must be a number between 0 and 65535 in " + quoted);
  }
  std::uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') {
      return config_error("port must be a number between 0 and 65535 in " + quoted);
    }
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port > 65535) {
    return config_error("port must be a number between 0 and 65535 in " + quoted);
  }
  return std::pair<std::string, std::uint16_t>{std::string(host), static_cast<std::uint16_t>(port)};
}

result<redis_endpoint> parse_redis_url(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return make_error(errc::invalid_request,
                      "\"" + std::string(url) +
                          "\" is not a redis://[[user]:password@]host[:port][/db] URL: " + why);
  };
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) return bad("it must start with redis://");
  std::string_view rest = url.substr(scheme.size());
  redis_endpoint ep;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      ep.password = std::string(userinfo);
    } else {
      ep.user = std::string(userinfo.substr(0, colon));
      ep.password = std::string(userinfo.substr(colon + 1));
    }
  }
  std::string_view hostport = rest.substr(0, rest.find('/'));
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      int n = 0;
      auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), n);
      if (ec != std::errc() || p != db.data() + db.size() || n < 0 || n > 15)
        return bad("the database must be a number from 0 to 15");
      ep.db = n;
    }
  }
  if (hostport.empty()) return bad("no host");
  auto parsed =
      parse_listen(hostport.find(':') == std::string_view::npos ? std::string(hostport) + ":6379"
                                                                : std::string(hostport));
  if (!parsed || parsed->second == 0) return bad("bad host or port");
  ep.host = parsed->first;
  ep.port = parsed->second;
  return ep;
}

const type_config* find_type(const config& cfg, std::string_view name) {
  auto it = cfg.types.find(name);
  if (it != cfg.types.end()) return &it->second;
  return cfg.auto_types ? cfg.auto_types->find(name) : nullptr;
}

bool valid_type_name(std::string_view name) { return type_name_ok(name); }

bool valid_queue_name(std::string_view name) {
  return !name.empty() && name.find(' ') == std::string_view::npos;
}

std::vector<const type_config*> all_types(const config& cfg) {
  std::vector<const type_config*> out;
  for (const auto& [name, tc] : cfg.types) out.push_back(&tc);
  if (cfg.auto_types)
    for (const auto* tc : cfg.auto_types->all()) out.push_back(tc);
  return out;
}

std::string known_type_names(const config& cfg) {
  std::string out;
  for (const auto& [name, type] : cfg.types) {
    (void)type;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

} // namespace taskd
