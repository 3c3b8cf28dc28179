#pragma once
// The Faktory worker protocol (version 2) on its own TCP port ([faktory] listen), so
// existing Faktory client and worker libraries push and process taskd's worker types.
//
// Commands: HELLO (with the password hash when [faktory] password is set), PUSH, PUSHB,
// FETCH (blocks up to 2 s), ACK, FAIL, BEAT (answers {"state":"quiet"} while taskd
// drains), INFO, FLUSH (refused unless [faktory] allow_flush), END. Jobs map to tasks as
// in src/core/faktory_job.hpp; FETCH leases through the scheduler like the HTTP worker
// API, and ACK/FAIL name the jid of the lease this worker (wid) holds: a late ACK of a
// lost lease is refused. Lines are bounded (limits: server.max_body_bytes); bad input
// gets "-ERR ..." and the connection stays up unless the line was too long.

#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "http/api.hpp"

namespace taskd::http {

class faktory_server {
public:
  faktory_server(const api_context& ctx, faktory_config cfg, std::size_t max_line_bytes);
  ~faktory_server();
  void start(); // binds (throws on failure) and starts its I/O thread
  void stop();
  std::uint16_t port() const { return port_; }

  struct shared; // leases by jid, counters; only touched on the I/O thread

private:
  const api_context& ctx_;
  faktory_config cfg_;
  std::size_t max_line_;
  boost::asio::io_context ioc_;
  std::shared_ptr<shared> state_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

} // namespace taskd::http
