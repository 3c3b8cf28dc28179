// The mirrors' plain parts: which changes a page writes, the row a task becomes, the
// table check, the retry schedule, and the [bridge] config.

#include <doctest/doctest.h>

#include <cstdlib>

#include <boost/json.hpp>

#include "actors/mirror_actor.hpp"
#include "mirror/postgres_sink.hpp"
#include "mirror/rows.hpp"
#include "src/config/config.hpp"

using namespace taskd;
namespace json = boost::json;

namespace {

change_entry change(std::uint64_t seq, task_id id, task_status s, bool deleted = false) {
  change_entry e;
  e.seq = seq;
  e.deleted = deleted;
  e.t.id = id;
  e.t.type = "t";
  e.t.status = s;
  return e;
}

std::vector<existing_column> seed_table() {
  return {{"id", "bigint", true},
          {"type", "character varying", true},
          {"payload", "jsonb", true},
          {"status", "character varying", true},
          {"result", "jsonb", false},
          {"error", "text", false},
          {"created_at", "timestamp with time zone", false},
          {"updated_at", "timestamp with time zone", false}};
}

} // namespace

TEST_CASE("mirror: a page writes each task's newest change, in change-log order") {
  std::vector<change_entry> page = {
      change(10, 1, task_status::pending),     change(11, 2, task_status::pending),
      change(12, 1, task_status::in_progress), change(13, 3, task_status::pending),
      change(14, 1, task_status::completed),   change(15, 3, task_status::cancelled, true),
  };
  auto newest = newest_per_task(page);
  REQUIRE(newest.size() == 3);
  CHECK(newest[0]->seq == 11); // task 2
  CHECK(newest[1]->seq == 14); // task 1, completed
  CHECK(newest[2]->seq == 15); // task 3, deleted: never brought back by its create
  CHECK(newest[2]->deleted);
  CHECK(newest_per_task({}).empty());
}

TEST_CASE("mirror: a row has the API's values of the table's columns and the seq") {
  task t;
  t.id = 7;
  t.type = "sendMessage";
  t.payload = json::parse(R"({"to":"x"})");
  t.status = task_status::failed;
  t.error = "boom";
  t.created_at = 1700000000123;
  t.updated_at = 1700000000456;
  t.run_at = 1700000000123;
  t.attempts = 2;
  t.max_attempts = 2;
  auto row = mirror_row(t, 42);
  CHECK(row.size() == 16);
  CHECK(row.at("id") == 7);
  CHECK(row.at("seq") == 42);
  CHECK(row.at("payload") == t.payload);
  CHECK(row.at("status") == "failed");
  CHECK(row.at("error") == "boom");
  CHECK(row.at("result").is_null());
  CHECK(row.at("started_at").is_null());
  CHECK(row.at("created_at") == "2023-11-14T22:13:20.123Z");
  CHECK(row.at("mode") == "async");
  CHECK(!row.contains("idempotency_key"));
  CHECK(!row.contains("backoff"));
}

TEST_CASE("mirror: NUL characters are replaced in strings and keys, nothing else changes") {
  json::value v = json::parse(R"({"a\u0000":"x\u0000y","n":[1,"\u0000"],"ok":"plain"})");
  replace_nul_chars(v);
  CHECK(json::serialize(v) ==
        "{\"a\xEF\xBF\xBD\":\"x\xEF\xBF\xBDy\",\"n\":[1,\"\xEF\xBF\xBD\"],\"ok\":\"plain\"}");
}

TEST_CASE("mirror: the table check accepts the seed's table and refuses what cannot work") {
  CHECK(incompatibility(seed_table(), {"id"}).empty()); // our columns get added
  auto text_id = seed_table();
  text_id[0].data_type = "uuid";
  CHECK(incompatibility(text_id, {"id"}) == "column id is uuid, expected bigint");
  auto no_payload = seed_table();
  no_payload.erase(no_payload.begin() + 2);
  CHECK(incompatibility(no_payload, {"id"}) == "column payload is missing");
  auto wrong_seq = seed_table();
  wrong_seq.push_back({"seq", "text", false});
  CHECK(incompatibility(wrong_seq, {"id"}) == "column seq is text, expected bigint");
  auto extra = seed_table();
  extra.push_back({"tenant", "text", true});
  CHECK(incompatibility(extra, {"id"}).find("tenant is NOT NULL") != std::string::npos);
  extra.back().not_null_without_default = false;
  CHECK(incompatibility(extra, {"id"}).empty());
  CHECK(incompatibility(seed_table(), {}) == "id must be the primary key");
  CHECK(incompatibility(seed_table(), {"id", "type"}) == "id must be the primary key");
}

TEST_CASE("mirror: retries back off exponentially up to the cap") {
  CHECK(retry_delay(1, 100, 10000) == 100);
  CHECK(retry_delay(2, 100, 10000) == 200);
  CHECK(retry_delay(5, 100, 10000) == 1600);
  CHECK(retry_delay(8, 100, 10000) == 10000);
  CHECK(retry_delay(1000, 100, 10000) == 10000);
  CHECK(retry_delay(1, 500, 300) == 300);
}

TEST_CASE("config: [bridge] mirrors are optional and validated") {
  const std::string type = "[types.echo]\nhandler = \"builtin:echo\"\n";
  auto none = parse_config(type);
  REQUIRE(none.ok());
  CHECK(!none->bridge.postgres);
  CHECK(!none->bridge.redis);

  auto both = parse_config(type + R"(
[bridge]
retry_max_ms = 2000
[bridge.postgres]
url = "postgresql://u:p@127.0.0.1:5432/app"
table = "public.tasks"
batch = 100
[bridge.redis]
url = "redis://:secret@10.0.0.2:6380/3"
prefix = "app"
stream_maxlen = 5000
)");
  REQUIRE_MESSAGE(both.ok(), (both.ok() ? "" : both.err().message));
  CHECK(both->bridge.retry_max_ms == 2000);
  REQUIRE(both->bridge.postgres);
  CHECK(both->bridge.postgres->table == "public.tasks");
  CHECK(both->bridge.postgres->batch == 100);
  REQUIRE(both->bridge.redis);
  CHECK(both->bridge.redis->endpoint.host == "10.0.0.2");
  CHECK(both->bridge.redis->endpoint.port == 6380);
  CHECK(both->bridge.redis->endpoint.password == "secret");
  CHECK(both->bridge.redis->endpoint.db == 3);
  CHECK(both->bridge.redis->prefix == "app");
  CHECK(both->bridge.redis->stream_maxlen == 5000);

  auto bad = parse_config(type + R"(
[bridge.postgres]
table = "tasks; drop table x"
[bridge.redis]
url = "http://localhost"
prefix = ""
)");
  REQUIRE(!bad.ok());
  const auto& m = bad.err().message;
  CHECK(m.find("bridge.postgres.url: required (or set TASKD_PG_URL)") != std::string::npos);
  CHECK(m.find("bridge.postgres.table:") != std::string::npos);
  CHECK(m.find("bridge.redis.url:") != std::string::npos);
  CHECK(m.find("bridge.redis.prefix: must not be empty") != std::string::npos);
}

TEST_CASE("config: TASKD_PG_URL and TASKD_REDIS_URL override the file's urls") {
  setenv("TASKD_PG_URL", "postgresql://from-env/db", 1);
  setenv("TASKD_REDIS_URL", "redis://envhost:7000", 1);
  auto c = parse_config("[types.echo]\nhandler = \"builtin:echo\"\n[bridge.postgres]\n"
                        "[bridge.redis]\nurl = \"redis://filehost\"\n");
  unsetenv("TASKD_PG_URL");
  unsetenv("TASKD_REDIS_URL");
  REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.err().message));
  CHECK(c->bridge.postgres->url == "postgresql://from-env/db");
  CHECK(c->bridge.redis->endpoint.host == "envhost");
  CHECK(c->bridge.redis->endpoint.port == 7000);
}

TEST_CASE("config: redis URLs") {
  auto plain = parse_redis_url("redis://127.0.0.1");
  REQUIRE(plain.ok());
  CHECK(plain->port == 6379);
  CHECK(plain->db == 0);
  CHECK(plain->password.empty());
  auto user = parse_redis_url("redis://app:pw@h:1/2");
  REQUIRE(user.ok());
  CHECK(user->user == "app");
  CHECK(user->password == "pw");
  CHECK(user->db == 2);
  CHECK(!parse_redis_url("redis://h:1/x").ok());
  CHECK(!parse_redis_url("redis://h:99999").ok());
  CHECK(!parse_redis_url("redis://").ok());
  CHECK(!parse_redis_url("rediss://h").ok());
}
