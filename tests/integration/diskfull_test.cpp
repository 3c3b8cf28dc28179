// A full disk: the data directory on a small tmpfs that fills up. Creates get 507,
// /readyz reports not ready, what is stored stays intact, and writes resume on their own
// once space is freed. Mounting needs root (scripts/test.sh runs as root).

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <boost/json.hpp>

#include "tests/integration/harness.hpp"

using namespace it;

namespace {

/// A tmpfs of `mb` MB mounted over `dir`, unmounted (lazily) when done.
struct small_disk {
  std::string dir;
  bool mounted = false;
  small_disk(const std::string& d, int mb) : dir(d) {
    std::filesystem::create_directories(dir);
    std::string opts = "size=" + std::to_string(mb) + "m";
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~small_disk() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
  std::uint64_t free_bytes() const {
    struct statvfs fs {};
    REQUIRE(::statvfs(dir.c_str(), &fs) == 0);
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  }
};

/// Takes space until only `leave` bytes are free, in a file of its own.
void fill_until(const small_disk& disk, const std::string& path, std::uint64_t leave) {
  std::uint64_t free = disk.free_bytes();
  REQUIRE(free > leave);
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  CHECK(::posix_fallocate(fd, 0, static_cast<off_t>(free - leave)) == 0);
  ::close(fd);
}

} // namespace

TEST_CASE("disk full: creates get 507, /readyz is not ready, nothing stored breaks, it recovers") {
  taskd_options o;
  o.config_toml = config_with(R"(
[types.echo]
handler = "builtin:echo"
)",
                              "min_free_disk_mb = 4\n");
  o.start = false;
  taskd_process t(o);
  small_disk disk(t.data_dir(), 32);
  if (!disk.mounted) {
    MESSAGE("skipped: cannot mount a tmpfs here (needs root): ", std::strerror(errno));
    return;
  }
  t.start();
  auto c = t.client();
  const std::string big(50000, 'p');
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 20; ++i) {
    auto r = c.post("/api/v1/tasks",
                    json::object{{"type", "echo"}, {"payload", {{"n", i}, {"big", big}}}});
    REQUIRE_MESSAGE(r.status == 201, r.describe());
    ids.push_back(r.json.at("id").to_number<std::uint64_t>());
  }
  wait_until([&] { return list_all(c, "status=completed").size() == ids.size(); }, 20s,
             "the first tasks complete");

  // 3 MB left, under the 4 MB reserve: every write is refused, reads still work.
  fill_until(disk, t.data_dir() + "/filler", 3u << 20);
  // The store reads the free space at most every 100 ms while there is some, so a create
  // right after the fill may still be taken (the reserve is for that): it is then kept.
  http_response refused;
  wait_until(
      [&] {
        refused = c.post("/api/v1/tasks",
                         json::object{{"type", "echo"}, {"payload", {{"n", ids.size()}}}});
        if (refused.status == 201) ids.push_back(refused.json.at("id").to_number<std::uint64_t>());
        return refused.status != 201;
      },
      5s, "creates to be refused once the disk is under the reserve");
  CHECK(refused.status == 507);
  CHECK(refused.json.at("error").at("code") == "storage_full");
  auto batch = c.post("/api/v1/tasks/batch",
                      json::object{{"tasks", json::array{{{"type", "echo"}}, {{"type", "echo"}}}}});
  CHECK(batch.status == 507);
  auto ready = c.get("/readyz");
  CHECK(ready.status == 503);
  CHECK(ready.json.at("reason") == "storage_full");
  CHECK(c.get("/healthz").status == 200);
  CHECK(c.get("/api/v1/tasks/" + std::to_string(ids[0])).status == 200);
  CHECK(list_all(c, "").size() == ids.size()); // nothing half-written

  // Space freed: writes resume by themselves.
  std::filesystem::remove(t.data_dir() + "/filler");
  wait_until([&] { return c.get("/readyz").status == 200; }, 10s, "/readyz ready again");
  auto after =
      c.post("/api/v1/tasks", json::object{{"type", "echo"}, {"payload", {{"n", ids.size()}}}});
  REQUIRE_MESSAGE(after.status == 201, after.describe());
  ids.push_back(after.json.at("id").to_number<std::uint64_t>());
  wait_until([&] { return list_all(c, "status=completed").size() == ids.size(); }, 20s,
             "the task created after recovery completes");
  CHECK(count_of(read_file(t.log_path()), "space is available again") == 1);

  // Everything acknowledged survives a kill -9, payloads intact.
  t.restart();
  auto c2 = t.client();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto r = c2.get("/api/v1/tasks/" + std::to_string(ids[i]));
    REQUIRE(r.status == 200);
    CHECK(r.json.at("status") == "completed");
    CHECK(r.json.at("payload").at("n") == static_cast<std::int64_t>(i));
    if (i < 20) CHECK(r.json.at("payload").at("big") == json::value(big));
  }
  t.kill9();
}
