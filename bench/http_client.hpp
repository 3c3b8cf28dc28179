#pragma once
// A small asynchronous HTTP/1.1 client for the load generator: keep-alive connections on
// one io_context, one request in flight per connection (no pipelining), so a connection's
// latency is the server's answer time plus one loopback round trip.
//
// Everything runs on the thread that drives the io_context; callbacks must not block.
// `blocking_client` wraps one connection for the sequential parts of a scenario (setup,
// polling, reading results back) by running the io_context until its answer is in.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct http_result {
  beast::error_code ec; // transport error; status is 0 then
  int status = 0;
  std::string body;
  bool ok() const { return !ec && status >= 200 && status < 300; }
};

using done_fn = std::function<void(http_result&&)>;

/// One keep-alive connection. Connects lazily and reconnects after a transport error
/// or a `Connection: close`, so a caller only sees errors for requests that failed.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(net::io_context& ioc, tcp::endpoint ep);

  /// Starts one request; `done` runs on the io thread. Only one request at a time.
  void request(http::verb method, const std::string& target, std::string body, done_fn done);
  /// Opens the socket ahead of time (so the first measured request does not connect).
  void connect(std::function<void(beast::error_code)> done);

  bool busy() const { return busy_; }
  bool is_open() const { return socket_.is_open(); }

private:
  void write();
  void on_read(beast::error_code ec);
  void finish(http_result&& r);

  tcp::endpoint ep_;
  // A plain socket, not beast::tcp_stream: its per-operation timers cost a timerfd syscall
  // per read, a large share of the client's CPU. Hangs are caught by bench.sh's timeout.
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  done_fn done_;
  bool busy_ = false;
};

/// Parses "http://HOST:PORT" (HOST an address or "localhost").
std::optional<tcp::endpoint> parse_url(const std::string& url);

/// Runs `ioc` until `pred()` holds (handlers of other connections run meanwhile).
void run_until(net::io_context& ioc, const std::function<bool()>& pred);

/// Sequential requests over one connection, for the parts that are not measured load.
class blocking_client {
public:
  blocking_client(net::io_context& ioc, tcp::endpoint ep);
  http_result get(const std::string& target);
  http_result post(const std::string& target, std::string body);
  http_result send(http::verb method, const std::string& target, std::string body);

private:
  net::io_context& ioc_;
  std::shared_ptr<connection> conn_;
};

} // namespace bench
