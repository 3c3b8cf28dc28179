#pragma once
// The Beast HTTP server: connections, parsing, limits and keep-alive. What a request
// means is decided by the handler it is given; this file knows no routes.

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

namespace taskd::http {

namespace beast_http = boost::beast::http;
using request = beast_http::request<beast_http::string_body>;
using response = beast_http::response<beast_http::string_body>;
/// Answers one request: called at most once, from any thread. `on_io` runs work on the
/// I/O thread of the request's connection, so that a result learned on another thread
/// is turned into a response there and not on the thread that learned it.
struct responder {
  std::function<void(response)> send;
  std::function<void(std::function<void()>)> on_io;
  void operator()(response res) const { send(std::move(res)); }
};
using request_handler = std::function<void(request&&, responder)>;
/// Takes over a connection after a WebSocket upgrade request.
using connection_taker = std::function<void(boost::asio::ip::tcp::socket&&, request&&)>;
/// For an upgrade request: who takes the connection, or empty to answer it as a request.
using upgrade_handler = std::function<connection_taker(const request&)>;

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::size_t max_body_bytes = 1048576;
  int threads = 2;
  /// Open HTTP connections at most; more are answered 503 and closed. (WebSocket streams
  /// are bounded by events.max_subscribers.)
  std::size_t max_connections = 10000;
  /// How long one request may take to arrive (headers and body) and an idle keep-alive
  /// connection may stay open: slow or silent clients are cut off.
  std::chrono::milliseconds request_timeout{60000};
};

class server {
public:
  server(server_options options, request_handler handler, upgrade_handler upgrade = {});
  ~server();

  /// Binds and starts the I/O threads. The bound port is `port()` (useful with port 0).
  void start();
  /// Stops accepting and closes connections; returns after the I/O threads exit.
  void stop();
  std::uint16_t port() const { return bound_port_; }

private:
  struct listener;
  server_options options_;
  request_handler handler_;
  upgrade_handler upgrade_;
  boost::asio::io_context ioc_;
  std::shared_ptr<listener> listener_;
  std::vector<std::thread> threads_;
  std::uint16_t bound_port_ = 0;
};

/// The status line and fields of a response as Beast's serializer would write them for a
/// string body with its Content-Length set (every response here is prepared so), plus a
/// Server field; the body follows as it is. Beast's serializer showed in the profile of
/// small creates.
std::string serialize_head(response& res);

/// `{"error": {"code": ..., "message": ...}}` with the status its code maps to.
response error_response(unsigned version, bool keep_alive, const char* code, int status,
                        const std::string& message);

} // namespace taskd::http
