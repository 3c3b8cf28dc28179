#pragma once
// The Redis mirror: HSET {prefix}:task:{id} with each task's fields (guarded by a Lua
// script so a hash never moves to an older seq) and XADD {prefix}:events with each
// change. Stream entry ids are "<seq>-0", so a replayed change is never added twice and
// a consumer resumes from an id exactly as from a change-log seq.

#include <memory>
#include <string>

#include "mirror/sink.hpp"
#include "src/config/config.hpp"

struct redisContext;

namespace taskd {

class redis_sink final : public mirror_sink {
public:
  explicit redis_sink(redis_mirror_config cfg);
  ~redis_sink() override;

  status prepare() override;
  status apply(const std::vector<const change_entry*>& newest,
               const std::vector<change_entry>& page) override;
  status resync_put(const std::vector<change_entry>& tasks, task_id after, bool last,
                    std::uint64_t at) override;
  void disconnect() override;

private:
  struct reply;
  /// Sends every command pipelined, then reads every reply; fails on any error reply.
  result<std::vector<reply>> run(const std::vector<std::vector<std::string>>& commands);
  status fail(error e);
  result<std::uint64_t> last_stream_seq();
  status remove_strays();
  void put_task(std::vector<std::vector<std::string>>& out, const change_entry& ch, bool force);

  redis_mirror_config cfg_;
  redisContext* ctx_ = nullptr;
  std::string script_sha_;
  // The stream's newest seq as this connection last saw or wrote it: read once per
  // connection, not once per batch (taskd is the stream's only writer).
  std::optional<std::uint64_t> stream_last_;
  std::vector<task_id> resync_ids_; // every id copied by the resync in progress
};

/// The hash key of a task and the stream key.
std::string redis_task_key(const std::string& prefix, std::uint64_t id);
std::string redis_stream_key(const std::string& prefix);

} // namespace taskd
