// The exec handler: runs a command in its own process group, feeds it the task on stdin
// and turns its exit status and output into a handler_outcome.
//
// Thread-safety: the only global state is the set of live process groups (under a mutex),
// for kill_running_exec_children. The calling thread's signal mask is changed
// only for the duration of the call (SIGPIPE blocked), and only our own child is waited for.

#include "src/handlers/handlers.hpp"
#include "src/handlers/output.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/json/parse.hpp>

extern char** environ;

namespace taskd {
namespace {

using clock_type = std::chrono::steady_clock;

// Once the main child has exited (and its process group was killed), output is read for
// at most this long: a process that escaped the group and still holds stdout must not
// keep the task running.
constexpr auto exit_drain_grace = std::chrono::milliseconds(200);
// Without a pidfd the only way to notice an exit while pipes stay open is to look again.
constexpr int exit_poll_interval_ms = 10;
constexpr std::size_t io_chunk_bytes = 64 * 1024;
// Longer timeouts are treated as "none"; keeps the deadline arithmetic from overflowing.
constexpr millis max_timeout_ms = millis{1} << 40;

class unique_fd {
public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }

private:
  int fd_ = -1;
};

std::string errno_text(int err) { return std::generic_category().message(err); }

// The stderr tail was cut at an arbitrary byte; drop a partial leading character.
std::string tail_text(std::string_view tail) {
  std::size_t start = 0;
  while (start < tail.size() && start < 3 &&
         (static_cast<unsigned char>(tail[start]) & 0xC0) == 0x80)
    ++start;
  return to_valid_utf8(trim_space(tail.substr(start)));
}

std::string with_tail(std::string head, std::string_view stderr_tail) {
  std::string tail = tail_text(stderr_tail);
  if (!tail.empty()) head += ": " + tail;
  return head;
}

const char* signal_name(int sig) {
  switch (sig) {
  case SIGHUP: return "SIGHUP";
  case SIGINT: return "SIGINT";
  case SIGQUIT: return "SIGQUIT";
  case SIGILL: return "SIGILL";
  case SIGTRAP: return "SIGTRAP";
  case SIGABRT: return "SIGABRT";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGKILL: return "SIGKILL";
  case SIGUSR1: return "SIGUSR1";
  case SIGSEGV: return "SIGSEGV";
  case SIGUSR2: return "SIGUSR2";
  case SIGPIPE: return "SIGPIPE";
  case SIGALRM: return "SIGALRM";
  case SIGTERM: return "SIGTERM";
  case SIGXCPU: return "SIGXCPU";
  case SIGXFSZ: return "SIGXFSZ";
  case SIGSYS: return "SIGSYS";
  default: return nullptr;
  }
}

// The child's dup2 onto 0..2 would clobber a pipe end that itself sits at 0..2 (possible
// when the server runs with stdio closed), so such ends are moved up.
bool move_above_stdio(unique_fd& fd) {
  if (fd.get() > STDERR_FILENO) return true;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return false;
  fd.reset(moved);
  return true;
}

// Both ends close-on-exec; the child gets its end through dup2, which clears the flag.
// `parent_end_is_read` picks the end we keep, which is made non-blocking.
bool make_pipe(unique_fd& parent_end, unique_fd& child_end, bool parent_end_is_read) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  unique_fd read_end(fds[0]);
  unique_fd write_end(fds[1]);
  if (!move_above_stdio(read_end) || !move_above_stdio(write_end)) return false;
  unique_fd& ours = parent_end_is_read ? read_end : write_end;
  unique_fd& theirs = parent_end_is_read ? write_end : read_end;
  const int flags = ::fcntl(ours.get(), F_GETFL);
  if (flags < 0 || ::fcntl(ours.get(), F_SETFL, flags | O_NONBLOCK) != 0) return false;
  parent_end.reset(ours.release());
  child_end.reset(theirs.release());
  return true;
}

class spawn_config {
public:
  spawn_config() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attr_);
  }
  spawn_config(const spawn_config&) = delete;
  spawn_config& operator=(const spawn_config&) = delete;
  ~spawn_config() {
    ::posix_spawnattr_destroy(&attr_);
    ::posix_spawn_file_actions_destroy(&actions_);
  }

  // Returns 0 or an errno value.
  int setup(int stdin_fd, int stdout_fd, int stderr_fd) {
    int rc = ::posix_spawn_file_actions_adddup2(&actions_, stdin_fd, STDIN_FILENO);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&actions_, stdout_fd, STDOUT_FILENO);
    if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&actions_, stderr_fd, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    // Descriptors other threads opened without O_CLOEXEC must not leak into the child.
    if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
#endif
    // Own process group (pgid = pid) so a timeout can kill everything the command started.
    // The child starts with a clean signal state: nothing blocked (the calling thread may
    // block signals) and default dispositions (the server may ignore SIGPIPE, SIGCHLD...).
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig = 1; sig < 32; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
    const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (rc == 0) rc = ::posix_spawnattr_setflags(&attr_, flags);
    if (rc == 0) rc = ::posix_spawnattr_setpgroup(&attr_, 0);
    if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attr_, &defaults);
    return rc;
  }

  int spawn(const std::vector<std::string>& argv, pid_t& pid) const {
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // posix_spawnp: a bare name is looked up in PATH, as a shell would (but no shell runs).
    return ::posix_spawnp(&pid, args[0], &actions_, &attr_, args.data(), environ);
  }

private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

void kill_group(pid_t pgid) {
  // ESRCH: the group is already empty, which is what we want.
  ::kill(-pgid, SIGKILL);
}

// Owns the child until it is reaped. If the call unwinds early (an exception), the whole
// group is killed and the child reaped, so no zombie or orphaned command is left behind.
class child_process {
public:
  explicit child_process(pid_t pid) : pid_(pid) {}
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (reaped_) return;
    kill_group(pid_);
    reap();
  }

  pid_t pid() const { return pid_; }

  // True once the child has exited. It stays a zombie (WNOWAIT), so its pid, which is
  // also the process group id, cannot be reused while we still signal the group.
  bool has_exited() const {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0)
      return errno != EINTR; // ECHILD: reaped behind our back (SIGCHLD ignored)
    return info.si_pid == pid_;
  }

  // The raw wait status, or nullopt if it was lost (SIGCHLD set to SIG_IGN).
  std::optional<int> reap() {
    reaped_ = true;
    int status = 0;
    for (;;) {
      if (::waitpid(pid_, &status, 0) == pid_) return status;
      if (errno != EINTR) return std::nullopt;
    }
  }

private:
  pid_t pid_;
  bool reaped_ = false;
};

// A pidfd becomes readable when the child exits, so poll() wakes up for the exit even
// while the pipes stay open. Kernels before 5.3 lack it; we then poll periodically.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// Writing to a pipe whose reader has gone raises SIGPIPE, whose default action would
// kill the whole server. The process-wide disposition is not ours to change, so SIGPIPE
// is blocked in this thread while we write, and an instance our writes raised is consumed
// before the old mask comes back.
class sigpipe_blocker {
public:
  sigpipe_blocker() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  sigpipe_blocker(const sigpipe_blocker&) = delete;
  sigpipe_blocker& operator=(const sigpipe_blocker&) = delete;
  ~sigpipe_blocker() {
    if (raised_) {
      // Thread-directed signals are dequeued first, so this takes the one we raised.
      const timespec no_wait{};
      while (::sigtimedwait(&set_, nullptr, &no_wait) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

  void note_epipe() { raised_ = true; }

private:
  sigset_t set_;
  sigset_t old_;
  bool raised_ = false;
};

struct child_io {
  unique_fd in;
  unique_fd out;
  unique_fd err;
  std::string_view stdin_left;
  std::string stdout_data;
  std::string stderr_tail;
  std::vector<char> buffer = std::vector<char>(io_chunk_bytes);
};

// Writes what the pipe takes now. Closes our end when everything is written (the child
// sees EOF) or when the child stopped reading (EPIPE: the rest of the input is dropped,
// which is the child's business, not an error).
void pump_stdin(child_io& io, sigpipe_blocker& sigpipe) {
  while (!io.stdin_left.empty()) {
    const std::size_t n = std::min(io.stdin_left.size(), io_chunk_bytes);
    const ssize_t written = ::write(io.in.get(), io.stdin_left.data(), n);
    if (written > 0) {
      io.stdin_left.remove_prefix(static_cast<std::size_t>(written));
      continue;
    }
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (written < 0 && errno == EPIPE) sigpipe.note_epipe();
    break;
  }
  io.in.reset();
}

// One read per readiness so a flooding child cannot starve the deadline check. Keeps the
// first `limit` bytes (keep_tail false) or the last `limit` bytes (keep_tail true); the
// rest is read and dropped so the child never blocks on a full pipe.
void pump_output(child_io& io, unique_fd& fd, std::string& sink, std::size_t limit,
                 bool keep_tail) {
  const ssize_t got = ::read(fd.get(), io.buffer.data(), io.buffer.size());
  if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (got <= 0) {
    fd.reset(); // EOF, or an error we can do nothing about: stop reading this stream
    return;
  }
  const auto n = static_cast<std::size_t>(got);
  if (keep_tail) {
    sink.append(io.buffer.data(), n);
    if (sink.size() > limit) sink.erase(0, sink.size() - limit);
  } else if (sink.size() < limit) {
    sink.append(io.buffer.data(), std::min(n, limit - sink.size()));
  }
}

std::optional<clock_type::time_point> deadline_after(millis timeout_ms) {
  if (timeout_ms <= 0 || timeout_ms > max_timeout_ms) return std::nullopt;
  return clock_type::now() + std::chrono::milliseconds(timeout_ms);
}

int poll_timeout_ms(std::optional<clock_type::time_point> until, bool cap) {
  long long ms = -1;
  if (until) {
    const auto left = *until - clock_type::now();
    ms = std::max<long long>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count());
    ms = std::min<long long>(ms, INT_MAX);
  }
  if (cap && (ms < 0 || ms > exit_poll_interval_ms)) ms = exit_poll_interval_ms;
  return static_cast<int>(ms);
}

enum class exchange_end { exited, timed_out, poll_failed };

// Feeds stdin and collects output until the child has exited and its output is drained,
// or until the deadline. On return after an exit, the child's process group is dead.
// `poll_errno` is set for poll_failed.
exchange_end exchange(child_process& child, child_io& io,
                      std::optional<clock_type::time_point> deadline, int& poll_errno) {
  sigpipe_blocker sigpipe;
  unique_fd pidfd(open_pidfd(child.pid()));
  bool exited = false;
  std::optional<clock_type::time_point> drain_until;
  if (io.stdin_left.empty()) io.in.reset();

  for (;;) {
    if (!exited && child.has_exited()) {
      exited = true;
      // Background processes it left behind die with it; they would otherwise hold the
      // pipes open and outlive the task.
      kill_group(child.pid());
      io.in.reset();
      drain_until = clock_type::now() + exit_drain_grace;
    }
    if (exited && !io.out && !io.err) return exchange_end::exited;
    const auto until = exited ? drain_until : deadline;
    if (until && clock_type::now() >= *until)
      return exited ? exchange_end::exited : exchange_end::timed_out;

    pollfd fds[4];
    nfds_t count = 0;
    const auto watch = [&](const unique_fd& fd, short events) {
      if (fd) fds[count++] = pollfd{fd.get(), events, 0};
    };
    watch(io.in, POLLOUT);
    watch(io.out, POLLIN);
    watch(io.err, POLLIN);
    if (!exited) watch(pidfd, POLLIN);
    const int ready = ::poll(fds, count, poll_timeout_ms(until, !exited && !pidfd));
    if (ready < 0 && errno != EINTR) {
      poll_errno = errno;
      return exchange_end::poll_failed;
    }
    if (ready <= 0) continue;

    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (io.in && fds[i].fd == io.in.get()) {
        pump_stdin(io, sigpipe);
      } else if (io.out && fds[i].fd == io.out.get()) {
        pump_output(io, io.out, io.stdout_data, exec_max_stdout_bytes, false);
      } else if (io.err && fds[i].fd == io.err.get()) {
        pump_output(io, io.err, io.stderr_tail, exec_stderr_tail_bytes, true);
      }
    }
  }
}

handler_outcome outcome_from_status_only(std::optional<int> status, const child_io& io) {
  if (!status)
    return failed_outcome(with_tail("exit status lost (is SIGCHLD ignored?)", io.stderr_tail));
  if (WIFEXITED(*status)) {
    const int code = WEXITSTATUS(*status);
    if (code != 0)
      return failed_outcome(with_tail("exit code " + std::to_string(code), io.stderr_tail));
    handler_outcome out;
    out.success = true;
    out.result = output_to_json(io.stdout_data);
    return out;
  }
  if (WIFSIGNALED(*status)) {
    const int sig = WTERMSIG(*status);
    std::string head = "killed by signal " + std::to_string(sig);
    if (const char* name = signal_name(sig)) head += std::string(" (") + name + ")";
    return failed_outcome(with_tail(std::move(head), io.stderr_tail));
  }
  return failed_outcome(
      with_tail("ended with wait status " + std::to_string(*status), io.stderr_tail));
}

/// The outcome plus what the attempts history and the task log keep of it.
handler_outcome outcome_from_status(std::optional<int> status, const child_io& io) {
  handler_outcome out = outcome_from_status_only(status, io);
  boost::json::object detail;
  if (status && WIFEXITED(*status)) detail["exit_code"] = WEXITSTATUS(*status);
  if (status && WIFSIGNALED(*status)) {
    detail["signal"] = WTERMSIG(*status);
    if (const char* name = signal_name(WTERMSIG(*status))) detail["signal_name"] = name;
  }
  out.detail = std::move(detail);
  out.log = tail_text(io.stderr_tail);
  return out;
}

} // namespace

namespace {

// Process groups of commands now running, so a shutdown can kill what it stops waiting for.
std::mutex live_groups_mu;
std::set<pid_t> live_groups;

struct live_group {
  explicit live_group(pid_t pgid) : pgid_(pgid) {
    std::lock_guard lock(live_groups_mu);
    live_groups.insert(pgid_);
  }
  ~live_group() {
    std::lock_guard lock(live_groups_mu);
    live_groups.erase(pgid_);
  }
  live_group(const live_group&) = delete;
  live_group& operator=(const live_group&) = delete;
  pid_t pgid_;
};

} // namespace

void kill_running_exec_children() {
  std::lock_guard lock(live_groups_mu);
  for (pid_t pgid : live_groups) kill_group(pgid);
}

handler_outcome run_exec(const std::vector<std::string>& argv, const std::string& stdin_data,
                         millis timeout_ms) {
  if (argv.empty() || argv.front().empty())
    return failed_outcome("cannot start: the command is empty", false);
  const auto deadline = deadline_after(timeout_ms);
  const std::string cannot_start = "cannot start " + argv.front() + ": ";

  child_io io;
  unique_fd child_in;
  unique_fd child_out;
  unique_fd child_err;
  if (!make_pipe(io.in, child_in, false) || !make_pipe(io.out, child_out, true) ||
      !make_pipe(io.err, child_err, true))
    return failed_outcome(cannot_start + errno_text(errno));

  pid_t pid = -1;
  spawn_config config;
  int rc = config.setup(child_in.get(), child_out.get(), child_err.get());
  if (rc == 0) rc = config.spawn(argv, pid);
  if (rc != 0) return failed_outcome(cannot_start + errno_text(rc));
  child_process child(pid);
  live_group registered(pid);
  // Only the child may hold these now, or we would never see EOF.
  child_in.reset();
  child_out.reset();
  child_err.reset();

  io.stdin_left = stdin_data;
  int poll_errno = 0;
  const exchange_end end = exchange(child, io, deadline, poll_errno);
  if (end != exchange_end::exited) {
    kill_group(child.pid());
    child.reap();
    if (end == exchange_end::poll_failed)
      return failed_outcome("cannot wait for " + argv.front() + ": " + errno_text(poll_errno));
    auto out = failed_outcome("timed out after " + std::to_string(timeout_ms) + " ms");
    out.detail =
        boost::json::object{{"timed_out", true}, {"signal", SIGKILL}, {"signal_name", "SIGKILL"}};
    out.log = tail_text(io.stderr_tail);
    return out;
  }
  return outcome_from_status(child.reap(), io);
}

} // namespace taskd
