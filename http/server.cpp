#include "http/server.hpp"

#include <array>

#include <pthread.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

namespace taskd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

response error_response(unsigned version, bool keep_alive, const char* code, int status,
                        const std::string& message) {
  response res{static_cast<beast_http::status>(status), version};
  res.set(beast_http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = boost::json::serialize(
      boost::json::object{{"error", boost::json::object{{"code", code}, {"message", message}}}});
  res.prepare_payload();
  return res;
}

std::string serialize_head(response& res) {
  if (res.find(beast_http::field::server) == res.end()) res.set(beast_http::field::server, "taskd");
  std::string out;
  out.reserve(256);
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.result_int());
  out += ' ';
  auto reason = res.reason();
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& f : res) {
    auto name = f.name_string();
    auto value = f.value();
    out.append(name.data(), name.size());
    out += ": ";
    out.append(value.data(), value.size());
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

namespace {

/// Counts a live connection while it exists.
struct connection_slot {
  std::shared_ptr<std::atomic<std::size_t>> open;
  explicit connection_slot(std::shared_ptr<std::atomic<std::size_t>> n) : open(std::move(n)) {}
  ~connection_slot() {
    if (open) open->fetch_sub(1);
  }
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
};

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& socket, const server_options& options, const request_handler& handler,
          const upgrade_handler& upgrade, std::shared_ptr<connection_slot> slot)
      : stream_(std::move(socket)), options_(options), handler_(handler), upgrade_(upgrade),
        slot_(std::move(slot)) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.request_timeout);
    beast_http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  // Clients such as curl send `Expect: 100-continue` and wait for the interim response
  // before sending a body (RFC 9110 10.1.1); answer it, then read the body.
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    auto& req = parser_->get();
    if (beast::iequals(req[beast_http::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<beast_http::response<beast_http::empty_body>>(
          beast_http::status::continue_, req.version());
      return beast_http::async_write(
          stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->read_body();
          });
    }
    read_body();
  }

  void read_body() {
    beast_http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == net::error::eof) return close();
    if (ec == beast_http::error::body_limit) {
      return write(error_response(11, false, "payload_too_large", 413,
                                  "request body exceeds server.max_body_bytes (" +
                                      std::to_string(options_.max_body_bytes) + " bytes)"));
    }
    if (ec == beast_http::error::header_limit) {
      return write(error_response(11, false, "invalid_request", 431, "request headers too large"));
    }
    if (ec) {
      if (ec != beast::error::timeout && ec != net::error::operation_aborted &&
          ec != net::error::connection_reset) {
        // A malformed request: answer 400 if the socket still works, then close.
        return write(error_response(11, false, "invalid_request", 400,
                                    std::string("malformed HTTP request: ") + ec.message()));
      }
      return close();
    }
    request req = parser_->release();
    if (upgrade_ && beast::websocket::is_upgrade(req)) {
      if (auto taker = upgrade_(req)) {
        stream_.expires_never();
        return taker(stream_.release_socket(), std::move(req));
      }
    }
    auto self = shared_from_this();
    auto exec = stream_.get_executor();
    handler_(std::move(req),
             responder{[self, exec](response res) {
                         net::post(exec, [self, res = std::move(res)]() mutable {
                           self->write(std::move(res));
                         });
                       },
                       [exec](std::function<void()> work) { net::post(exec, std::move(work)); }});
  }

  void write(response res) {
    // Head and body go out as two buffers of one write: the body is not copied.
    struct outgoing {
      response res;
      std::string head;
    };
    auto out = std::make_shared<outgoing>(outgoing{std::move(res), {}});
    out->head = serialize_head(out->res);
    std::array<net::const_buffer, 2> buffers{net::buffer(out->head), net::buffer(out->res.body())};
    stream_.expires_after(options_.request_timeout);
    net::async_write(stream_, buffers,
                     [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
                       if (ec || !out->res.keep_alive()) return self->close();
                       self->read();
                     });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  const server_options& options_;
  const request_handler& handler_;
  const upgrade_handler& upgrade_;
  std::shared_ptr<connection_slot> slot_;
};

/// Over the connection limit: a short 503, then close.
void refuse_connection(tcp::socket socket, std::size_t limit) {
  auto sock = std::make_shared<tcp::socket>(std::move(socket));
  auto res = std::make_shared<response>(error_response(
      11, false, "unavailable", 503,
      "too many open connections (server.max_connections = " + std::to_string(limit) + ")"));
  beast_http::async_write(*sock, *res, [sock, res](beast::error_code, std::size_t) {
    beast::error_code ec;
    sock->shutdown(tcp::socket::shutdown_both, ec);
    sock->close(ec);
  });
}

} // namespace

struct server::listener : std::enable_shared_from_this<server::listener> {
  listener(net::io_context& ioc, const server_options& options, const request_handler& handler,
           const upgrade_handler& upgrade)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)), options_(options), handler_(handler),
        upgrade_(upgrade) {}

  void open(const tcp::endpoint& ep) {
    acceptor_.open(ep.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec,
                                                                               tcp::socket socket) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        if (self->open_->fetch_add(1) >= self->options_.max_connections) {
          self->open_->fetch_sub(1);
          refuse_connection(std::move(socket), self->options_.max_connections);
        } else {
          auto slot = std::make_shared<connection_slot>(self->open_);
          std::make_shared<session>(std::move(socket), self->options_, self->handler_,
                                    self->upgrade_, std::move(slot))
              ->run();
        }
      } else {
        spdlog::warn("accept failed: {}", ec.message());
      }
      if (self->acceptor_.is_open()) self->accept();
    });
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  const server_options& options_;
  const request_handler& handler_;
  const upgrade_handler& upgrade_;
  std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
};

server::server(server_options options, request_handler handler, upgrade_handler upgrade)
    : options_(std::move(options)), handler_(std::move(handler)), upgrade_(std::move(upgrade)),
      ioc_(options_.threads) {}

server::~server() { stop(); }

void server::start() {
  auto addr = net::ip::make_address(options_.host);
  listener_ = std::make_shared<listener>(ioc_, options_, handler_, upgrade_);
  listener_->open(tcp::endpoint{addr, options_.port});
  bound_port_ = listener_->acceptor_.local_endpoint().port();
  listener_->accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "http:io");
      ioc_.run();
    });
}

void server::stop() {
  if (listener_) {
    net::post(listener_->acceptor_.get_executor(), [l = listener_] {
      beast::error_code ec;
      l->acceptor_.close(ec);
    });
  }
  ioc_.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  listener_.reset();
}

} // namespace taskd::http
