#include "mirror/redis_sink.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <boost/json.hpp>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include "mirror/rows.hpp"

namespace taskd {

namespace json = boost::json;

namespace {

// KEYS[1] the task's hash; ARGV: seq, force (1: ignore the stored seq), deleted, fields...
constexpr const char* put_script = R"lua(
local cur = redis.call('HGET', KEYS[1], 'seq')
if ARGV[2] == '0' and cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[3] == '1' then return 1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
return 1
)lua";

constexpr timeval connect_timeout{5, 0};
constexpr timeval command_timeout{10, 0};

// payload and result stay JSON text (a string payload keeps its quotes); other string
// fields are plain text.
std::string field_text(std::string_view key, const json::value& v) {
  if (const auto* s = v.if_string(); s && key != "payload" && key != "result")
    return std::string(*s);
  return json::serialize(v);
}

std::uint64_t seq_of_stream_id(std::string_view id) {
  std::uint64_t seq = 0;
  std::from_chars(id.data(), id.data() + id.size(), seq);
  return seq;
}

} // namespace

std::string redis_task_key(const std::string& prefix, std::uint64_t id) {
  return prefix + ":task:" + std::to_string(id);
}

std::string redis_stream_key(const std::string& prefix) { return prefix + ":events"; }

struct redis_sink::reply {
  int type = 0;
  long long integer = 0;
  std::string str;
  std::vector<reply> elements;
  static reply from(const redisReply* r) {
    reply out;
    out.type = r->type;
    out.integer = r->integer;
    if (r->str) out.str.assign(r->str, r->len);
    for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(from(r->element[i]));
    return out;
  }
};

redis_sink::redis_sink(redis_mirror_config cfg) : cfg_(std::move(cfg)) {}

redis_sink::~redis_sink() { disconnect(); }

void redis_sink::disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  stream_last_.reset();
}

status redis_sink::fail(error e) {
  disconnect();
  return e;
}

result<std::vector<redis_sink::reply>>
redis_sink::run(const std::vector<std::vector<std::string>>& commands) {
  for (const auto& cmd : commands) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      return make_error(errc::unavailable, std::string("redis: ") + ctx_->errstr);
  }
  std::vector<reply> out;
  out.reserve(commands.size());
  std::optional<std::string> first_error;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr)
      return make_error(errc::unavailable,
                        std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "no reply"));
    auto* r = static_cast<redisReply*>(raw);
    out.push_back(reply::from(r));
    freeReplyObject(r);
    if (out.back().type == REDIS_REPLY_ERROR && !first_error)
      first_error = "redis: " + commands[i][0] + ": " + out.back().str;
  }
  if (first_error) return make_error(errc::unavailable, *first_error);
  return out;
}

status redis_sink::prepare() {
  if (ctx_) return ok_status();
  const auto& ep = cfg_.endpoint;
  ctx_ = redisConnectWithTimeout(ep.host.c_str(), ep.port, connect_timeout);
  if (ctx_ == nullptr) return make_error(errc::unavailable, "redis: out of memory");
  if (ctx_->err)
    return fail(make_error(errc::unavailable, "redis: cannot connect to " + ep.host + ":" +
                                                  std::to_string(ep.port) + ": " + ctx_->errstr));
  redisSetTimeout(ctx_, command_timeout);
  std::vector<std::vector<std::string>> setup;
  if (!ep.password.empty()) {
    if (ep.user.empty())
      setup.push_back({"AUTH", ep.password});
    else
      setup.push_back({"AUTH", ep.user, ep.password});
  }
  if (ep.db != 0) setup.push_back({"SELECT", std::to_string(ep.db)});
  setup.push_back({"SCRIPT", "LOAD", put_script});
  auto replies = run(setup);
  if (!replies) return fail(replies.err());
  script_sha_ = replies->back().str;
  return ok_status();
}

void redis_sink::put_task(std::vector<std::vector<std::string>>& out, const change_entry& ch,
                          bool force) {
  std::vector<std::string> cmd{"EVALSHA",
                               script_sha_,
                               "1",
                               redis_task_key(cfg_.prefix, ch.t.id),
                               std::to_string(ch.seq),
                               force ? "1" : "0",
                               ch.deleted ? "1" : "0"};
  if (!ch.deleted) {
    for (auto& [key, value] : mirror_row(ch.t, ch.seq)) {
      if (value.is_null()) continue;
      cmd.emplace_back(key);
      cmd.push_back(field_text(key, value));
    }
  }
  out.push_back(std::move(cmd));
}

result<std::uint64_t> redis_sink::last_stream_seq() {
  auto r = run({{"XREVRANGE", redis_stream_key(cfg_.prefix), "+", "-", "COUNT", "1"}});
  if (!r) return r.err();
  const auto& entries = r->front().elements;
  if (entries.empty() || entries[0].elements.empty()) return std::uint64_t{0};
  return seq_of_stream_id(entries[0].elements[0].str);
}

status redis_sink::apply(const std::vector<const change_entry*>& newest,
                         const std::vector<change_entry>& page) {
  if (auto st = prepare(); !st) return st;
  if (!stream_last_) {
    auto last = last_stream_seq();
    if (!last) return fail(last.err());
    stream_last_ = *last;
  }
  const std::uint64_t last = *stream_last_;
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(newest.size() + page.size());
  for (const auto* ch : newest) put_task(cmds, *ch, false);
  const std::string stream = redis_stream_key(cfg_.prefix);
  const std::string maxlen = std::to_string(cfg_.stream_maxlen);
  for (const auto& ch : page) {
    if (ch.seq <= last) continue; // already in the stream: this page is a replay
    cmds.push_back({"XADD", stream, "MAXLEN", "~", maxlen, std::to_string(ch.seq) + "-0", "seq",
                    std::to_string(ch.seq), "id", std::to_string(ch.t.id), "status",
                    ch.deleted ? "deleted" : to_string(ch.t.status), "type", ch.t.type});
  }
  auto r = run(cmds);
  if (!r) return fail(r.err());
  if (!page.empty()) stream_last_ = std::max(last, page.back().seq);
  return ok_status();
}

status redis_sink::resync_put(const std::vector<change_entry>& tasks, task_id after, bool last,
                              std::uint64_t at) {
  if (auto st = prepare(); !st) return st;
  if (after == 0) resync_ids_.clear();
  std::vector<std::vector<std::string>> cmds;
  for (const auto& e : tasks) {
    put_task(cmds, e, true);
    if (resync_ids_.empty() || resync_ids_.back() < e.t.id) resync_ids_.push_back(e.t.id);
  }
  auto r = run(cmds);
  if (!r) return fail(r.err());
  if (!last) return ok_status();
  if (auto st = remove_strays(); !st) return st;
  // A stream ahead of `at` was written from another data directory: start it over. A
  // marker "<at>-1" tells stream readers that changes up to `at` were not streamed.
  auto last_seq = last_stream_seq();
  if (!last_seq) return fail(last_seq.err());
  cmds.clear();
  const std::string stream = redis_stream_key(cfg_.prefix);
  if (*last_seq > at) cmds.push_back({"DEL", stream});
  if (*last_seq != at && at > 0)
    cmds.push_back({"XADD", stream, "MAXLEN", "~", std::to_string(cfg_.stream_maxlen),
                    std::to_string(at) + "-1", "seq", std::to_string(at), "event", "resync"});
  if (auto done = run(cmds); !done) return fail(done.err());
  stream_last_.reset(); // read again on the next batch
  return ok_status();
}

// Hashes of tasks the resync did not copy are of tasks taskd no longer has.
status redis_sink::remove_strays() {
  std::string cursor = "0";
  const std::string pattern = cfg_.prefix + ":task:*";
  const std::string key_prefix = cfg_.prefix + ":task:";
  std::size_t removed = 0;
  do {
    auto page = run({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
    if (!page) return fail(page.err());
    cursor = page->front().elements.at(0).str;
    std::vector<std::vector<std::string>> dels;
    for (const auto& k : page->front().elements.at(1).elements) {
      std::string_view digits = std::string_view(k.str).substr(key_prefix.size());
      task_id id = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
      bool ours = ec == std::errc() && end == digits.data() + digits.size();
      if (ours && std::binary_search(resync_ids_.begin(), resync_ids_.end(), id)) continue;
      dels.push_back({"DEL", k.str});
    }
    removed += dels.size();
    if (auto d = run(dels); !d) return fail(d.err());
  } while (cursor != "0");
  resync_ids_.clear();
  if (removed > 0)
    spdlog::info("redis mirror: resync removed {} hashes of tasks taskd does not have", removed);
  return ok_status();
}

} // namespace taskd
