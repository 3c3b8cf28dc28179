#pragma once
// Mirror tests' side: the PostgreSQL and Redis servers (started by scripts/services.sh),
// clients that read what taskd mirrored, and the exact comparison with taskd's state.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.hpp"

namespace it {

/// A PostgreSQL and a Redis server on private ports. `shared()` is the pair
/// scripts/test.sh started (env TASKD_TEST_SERVICES_DIR, TASKD_TEST_PG_PORT,
/// TASKD_TEST_REDIS_PORT), or a private pair when run outside it; tests that stop a server
/// start a private pair, so they never disturb tests running beside them.
class mirror_servers {
public:
  static mirror_servers& shared();
  static std::unique_ptr<mirror_servers> start_private();
  ~mirror_servers();

  std::string pg_url(const std::string& password = "taskd-test") const;
  std::string redis_url(const std::string& password = "taskd-test") const;
  void stop_postgres();
  void start_postgres();
  void stop_redis();
  void start_redis();
  std::uint16_t redis_port() const { return redis_port_; }

private:
  mirror_servers() = default;
  void services(const std::vector<std::string>& args);
  std::string dir_;
  std::uint16_t pg_port_ = 0, redis_port_ = 0;
  bool owned_ = false;
};

/// Runs SQL (several statements allowed) or fails the test.
void pg_exec(const std::string& url, const std::string& sql);

/// A unique name for a test's table or key prefix ("mt_<pid>_<n>").
std::string unique_name(const std::string& stem);

/// taskd's mirrors in a config: [bridge] with both sinks (`redis_prefix` empty: no Redis).
std::string bridge_toml(const mirror_servers& s, const std::string& table,
                        const std::string& redis_prefix, int batch = 500);

/// Waits until every mirror in /api/v1/admin/info has applied the head.
void wait_mirrors_caught_up(http_client& c, ms timeout);

/// The exact comparison: every task taskd has (GET /api/v1/tasks) equals its PostgreSQL
/// row and its Redis hash field by field, with no extra rows or hashes; each row's seq is
/// the task's last change (from the event stream's replay since 0); the Redis stream holds
/// every change once, in order (after its resync marker, if the mirror started over). Fails the
/// test naming the first differences. Needs a quiet taskd whose change log still holds everything
/// (no trimming).
void check_mirrors_exact(const taskd_process& t, const mirror_servers& s, const std::string& table,
                         const std::string& redis_prefix);

} // namespace it
