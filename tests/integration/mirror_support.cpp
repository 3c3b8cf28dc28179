#include "tests/integration/mirror_support.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <boost/json.hpp>
#include <doctest/doctest.h>
#include <hiredis/hiredis.h>
#include <pqxx/pqxx>

namespace it {

namespace {

const std::string services_script = std::string(TASKD_SOURCE_DIR) + "/scripts/services.sh";

std::uint16_t port_from_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? static_cast<std::uint16_t>(std::atoi(v)) : 0;
}

// One Redis connection for reading what the mirror wrote.
class redis_reader {
public:
  explicit redis_reader(std::uint16_t port) {
    ctx_ = redisConnect("127.0.0.1", port);
    REQUIRE_MESSAGE((ctx_ && !ctx_->err), "cannot connect to redis on port " << port);
    auto auth = command({"AUTH", "taskd-test"});
    REQUIRE(auth->type == REDIS_REPLY_STATUS);
  }
  ~redis_reader() { redisFree(ctx_); }
  using reply_ptr = std::unique_ptr<redisReply, void (*)(void*)>;
  reply_ptr command(const std::vector<std::string>& args) {
    append(args);
    return next();
  }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  reply_ptr next() {
    void* r = nullptr;
    REQUIRE_MESSAGE(redisGetReply(ctx_, &r) == REDIS_OK, "redis: " << ctx_->errstr);
    return reply_ptr(static_cast<redisReply*>(r), freeReplyObject);
  }

private:
  redisContext* ctx_ = nullptr;
};

std::string str(const redisReply* r) { return r->str ? std::string(r->str, r->len) : ""; }

std::map<std::string, std::string> pairs(const redisReply* r) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out[str(r->element[i])] = str(r->element[i + 1]);
  return out;
}

// Compared with the API's task object: the row must hold exactly these values.
const char* const compared_fields[] = {"id",     "type",       "payload",    "status",
                                       "result", "error",      "created_at", "updated_at",
                                       "mode",   "priority",   "attempts",   "max_attempts",
                                       "run_at", "started_at", "finished_at"};

bool is_time_field(const std::string& f) {
  return f == "created_at" || f == "updated_at" || f == "run_at" || f == "started_at" ||
         f == "finished_at";
}

// A field as text, the way both mirrors can be compared with: JSON for payload/result,
// ms since the epoch for times, the plain value otherwise; "<null>" when absent.
std::string api_text(const json::object& task, const std::string& f) {
  const json::value& v = task.at(f);
  if (v.is_null()) return "<null>";
  if (is_time_field(f)) return std::to_string(rfc3339_ms(v));
  if (f == "payload" || f == "result") return json::serialize(v);
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

struct mismatch_log {
  std::ostringstream text;
  int count = 0;
  void add(const std::string& what) {
    if (++count <= 10) text << what << "\n";
  }
};

struct replay {
  std::uint64_t head = 0;
  std::map<std::uint64_t, std::uint64_t> last_seq; // task id -> seq of its last change
  struct event {
    std::uint64_t seq, id;
    std::string status, type; // status "deleted" for a deletion
  };
  std::vector<event> events;
};

replay read_change_log(std::uint16_t port, std::uint64_t head) {
  replay out;
  out.head = head;
  ws_client ws(port);
  REQUIRE_MESSAGE(ws.connected(), ws.connect_error());
  ws.next_matching([](const json::value& m) { return m.at("event") == "hello"; }, 10s, "hello");
  ws.send(R"({"since":0})");
  std::uint64_t seen = 0;
  while (seen < head) {
    auto m = ws.next(20s);
    REQUIRE_MESSAGE(!m.is_null(), "the event stream stopped at seq " << seen << " of " << head);
    const auto& o = m.as_object();
    std::string kind(o.at("event").as_string());
    if (kind != "task" && kind != "deleted") {
      REQUIRE_MESSAGE(kind == "subscribed", "unexpected event " << json::serialize(m));
      continue;
    }
    replay::event e;
    e.seq = o.at("seq").to_number<std::uint64_t>();
    if (kind == "task") {
      const auto& t = o.at("task").as_object();
      e.id = id_of(t);
      e.status = std::string(t.at("status").as_string());
      e.type = std::string(t.at("type").as_string());
    } else {
      e.id = o.at("id").to_number<std::uint64_t>();
      e.status = "deleted";
      e.type = std::string(o.at("type").as_string());
    }
    REQUIRE_MESSAGE(e.seq == seen + 1, "the change log has a gap before seq " << e.seq);
    seen = e.seq;
    out.last_seq[e.id] = e.seq;
    out.events.push_back(std::move(e));
  }
  return out;
}

void compare_postgres(const std::map<std::uint64_t, json::object>& tasks, const replay& log,
                      const std::string& url, const std::string& table, mismatch_log& bad) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  std::string cols;
  for (const char* f : compared_fields) {
    std::string name = f;
    if (is_time_field(name))
      cols += "(extract(epoch from " + name + ") * 1000)::bigint::text, ";
    else
      cols += name + "::text, ";
  }
  auto rows = tx.exec("SELECT " + cols + "seq FROM " + table + " ORDER BY id");
  std::size_t matched = 0;
  for (const auto& row : rows) {
    auto id = row[0].as<std::uint64_t>();
    auto it = tasks.find(id);
    if (it == tasks.end()) {
      bad.add("postgres has a row for task " + std::to_string(id) + " that taskd does not have");
      continue;
    }
    ++matched;
    for (std::size_t i = 0; i < std::size(compared_fields); ++i) {
      std::string f = compared_fields[i];
      std::string want = api_text(it->second, f);
      const auto& cell = row[static_cast<int>(i)];
      std::string got = cell.is_null() ? "<null>" : cell.c_str();
      // jsonb orders object keys its own way: compare JSON values, not texts.
      bool is_json = f == "payload" || f == "result";
      if (is_json && got != "<null>" && want != "<null>" && json::parse(got) == json::parse(want))
        continue;
      if (got != want)
        bad.add("postgres task " + std::to_string(id) + " " + f + ": " + got + " != taskd " + want);
    }
    auto seq = row[static_cast<int>(std::size(compared_fields))].as<std::uint64_t>();
    auto last = log.last_seq.find(id);
    if (last == log.last_seq.end() || last->second != seq)
      bad.add("postgres task " + std::to_string(id) + " seq " + std::to_string(seq) +
              " is not its last change");
  }
  if (matched != tasks.size())
    bad.add("postgres has " + std::to_string(matched) + " of taskd's " +
            std::to_string(tasks.size()) + " tasks");
}

void compare_redis(const std::map<std::uint64_t, json::object>& tasks, const replay& log,
                   std::uint16_t port, const std::string& prefix, mismatch_log& bad) {
  redis_reader r(port);
  // Every hash under the prefix, via SCAN.
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto page = r.command({"SCAN", cursor, "MATCH", prefix + ":task:*", "COUNT", "1000"});
    cursor = str(page->element[0]);
    for (std::size_t i = 0; i < page->element[1]->elements; ++i)
      keys.push_back(str(page->element[1]->element[i]));
  } while (cursor != "0");
  for (const auto& k : keys) r.append({"HGETALL", k});
  std::size_t matched = 0;
  for (const auto& k : keys) {
    auto h = pairs(r.next().get());
    auto id = std::stoull(k.substr(k.rfind(':') + 1));
    auto it = tasks.find(id);
    if (it == tasks.end()) {
      bad.add("redis has " + k + " for a task taskd does not have");
      continue;
    }
    ++matched;
    for (const char* f : compared_fields) {
      std::string want = api_text(it->second, f);
      auto field = h.find(f);
      std::string got = field == h.end() ? "<null>" : field->second;
      if (got != "<null>" && is_time_field(f)) got = std::to_string(rfc3339_ms(json::value(got)));
      if ((std::string(f) == "payload" || std::string(f) == "result") && got != "<null>")
        got = json::serialize(json::parse(got));
      if (got != want) bad.add("redis " + k + " " + f + ": " + got + " != taskd " + want);
    }
    auto last = log.last_seq.find(id);
    if (last == log.last_seq.end() || h["seq"] != std::to_string(last->second))
      bad.add("redis " + k + " seq " + h["seq"] + " is not its last change");
  }
  if (matched != tasks.size())
    bad.add("redis has " + std::to_string(matched) + " of taskd's " + std::to_string(tasks.size()) +
            " tasks");

  auto stream = r.command({"XRANGE", prefix + ":events", "-", "+"});
  std::size_t i = 0;
  for (std::size_t n = 0; n < stream->elements; ++n) {
    const redisReply* entry = stream->element[n];
    std::string entry_id = str(entry->element[0]);
    auto f = pairs(entry->element[1]);
    if (f.count("event")) {
      // A resync marker: the changes up to its seq were copied as tasks, not streamed.
      auto resynced_to = std::stoull(f["seq"]);
      while (i < log.events.size() && log.events[i].seq <= resynced_to) ++i;
      continue;
    }
    if (i >= log.events.size()) {
      bad.add("redis stream has more entries than changes: " + entry_id);
      break;
    }
    const auto& e = log.events[i++];
    std::string want_id = std::to_string(e.seq) + "-0";
    if (entry_id != want_id || f["seq"] != std::to_string(e.seq) ||
        f["id"] != std::to_string(e.id) || f["status"] != e.status || f["type"] != e.type)
      bad.add("redis stream entry " + entry_id + " (id " + f["id"] + ", " + f["status"] +
              ") != change " + want_id + " (id " + std::to_string(e.id) + ", " + e.status + ")");
  }
  if (i != log.events.size())
    bad.add("redis stream holds " + std::to_string(i) + " of " + std::to_string(log.events.size()) +
            " changes");
}

} // namespace

mirror_servers& mirror_servers::shared() {
  static std::unique_ptr<mirror_servers> instance = [] {
    const char* dir = std::getenv("TASKD_TEST_SERVICES_DIR");
    auto pg = port_from_env("TASKD_TEST_PG_PORT");
    auto redis = port_from_env("TASKD_TEST_REDIS_PORT");
    if (dir == nullptr || pg == 0 || redis == 0) return start_private();
    std::unique_ptr<mirror_servers> s(new mirror_servers());
    s->dir_ = dir;
    s->pg_port_ = pg;
    s->redis_port_ = redis;
    return s;
  }();
  return *instance;
}

std::unique_ptr<mirror_servers> mirror_servers::start_private() {
  std::unique_ptr<mirror_servers> s(new mirror_servers());
  char tmpl[] = "/tmp/taskd-mirror-servers-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  s->dir_ = tmpl;
  s->owned_ = true;
  s->pg_port_ = free_port();
  s->redis_port_ = free_port();
  s->start_postgres();
  s->start_redis();
  return s;
}

mirror_servers::~mirror_servers() {
  if (!owned_) return;
  run_command({services_script, "remove", "postgres", dir_ + "/postgres"}, 60s);
  run_command({services_script, "remove", "redis", dir_ + "/redis"}, 30s);
  std::filesystem::remove_all(dir_);
}

void mirror_servers::services(const std::vector<std::string>& args) {
  std::vector<std::string> argv{services_script};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_command(argv, 90s);
  REQUIRE_MESSAGE(r.exit_code == 0, "scripts/services.sh failed: " << r.output);
}

void mirror_servers::start_postgres() {
  services({"start", "postgres", dir_ + "/postgres", std::to_string(pg_port_)});
}
void mirror_servers::stop_postgres() { services({"stop", "postgres", dir_ + "/postgres"}); }
void mirror_servers::start_redis() {
  services({"start", "redis", dir_ + "/redis", std::to_string(redis_port_)});
}
void mirror_servers::stop_redis() { services({"stop", "redis", dir_ + "/redis"}); }

std::string mirror_servers::pg_url(const std::string& password) const {
  return "postgresql://postgres:" + password + "@127.0.0.1:" + std::to_string(pg_port_) +
         "/postgres";
}

std::string mirror_servers::redis_url(const std::string& password) const {
  return "redis://:" + password + "@127.0.0.1:" + std::to_string(redis_port_) + "/0";
}

void pg_exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

std::string unique_name(const std::string& stem) {
  static std::atomic<int> n{0};
  return stem + "_" + std::to_string(getpid()) + "_" + std::to_string(n++);
}

std::string bridge_toml(const mirror_servers& s, const std::string& table,
                        const std::string& redis_prefix, int batch) {
  std::string out = "[bridge]\nretry_min_ms = 50\nretry_max_ms = 500\n";
  if (!table.empty())
    out += "[bridge.postgres]\nurl = \"" + s.pg_url() + "\"\ntable = \"" + table +
           "\"\nbatch = " + std::to_string(batch) + "\n";
  if (!redis_prefix.empty())
    out += "[bridge.redis]\nurl = \"" + s.redis_url() + "\"\nprefix = \"" + redis_prefix +
           "\"\nbatch = " + std::to_string(batch) + "\nstream_maxlen = 10000000\n";
  return out;
}

void wait_mirrors_caught_up(http_client& c, ms timeout) {
  json::value last;
  wait_until(
      [&] {
        auto r = c.get("/api/v1/admin/info");
        if (r.status != 200) return false;
        last = r.json;
        auto head = r.json.at("head_seq").to_number<std::uint64_t>();
        for (const auto& m : r.json.at("mirrors").as_array())
          if (m.at("cursor").to_number<std::uint64_t>() != head) return false;
        return true;
      },
      timeout, "the mirrors to apply every change", [&] { return json::serialize(last); });
}

void check_mirrors_exact(const taskd_process& t, const mirror_servers& s, const std::string& table,
                         const std::string& redis_prefix) {
  auto c = t.client();
  wait_mirrors_caught_up(c, 60s);
  auto head = c.get("/api/v1/admin/info").json.at("head_seq").to_number<std::uint64_t>();
  std::map<std::uint64_t, json::object> tasks;
  for (auto& task : list_all(c)) tasks[id_of(task)] = task;
  auto log = read_change_log(t.port(), head);
  mismatch_log bad;
  if (!table.empty()) compare_postgres(tasks, log, s.pg_url(), table, bad);
  if (!redis_prefix.empty()) compare_redis(tasks, log, s.redis_port(), redis_prefix, bad);
  CHECK_MESSAGE(bad.count == 0, bad.count << " differences, the first:\n" << bad.text.str());
  MESSAGE("compared " << tasks.size() << " tasks and " << log.events.size() << " changes");
}

} // namespace it
