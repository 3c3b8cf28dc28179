#include "bench/http_client.hpp"

namespace bench {

namespace {

// Result pages of 1,000 tasks are about 0.5 MB; leave ample room.
constexpr std::uint64_t max_response_bytes = 256ull << 20;

} // namespace

connection::connection(net::io_context& ioc, tcp::endpoint ep) : ep_(ep), socket_(ioc) {}

void connection::connect(std::function<void(beast::error_code)> done) {
  socket_.async_connect(ep_, [self = shared_from_this(), done](beast::error_code ec) {
    if (!ec) self->socket_.set_option(tcp::no_delay(true), ec);
    done(ec);
  });
}

void connection::request(http::verb method, const std::string& target, std::string body,
                         done_fn done) {
  busy_ = true;
  done_ = std::move(done);
  req_ = {};
  req_.method(method);
  req_.target(target);
  req_.version(11);
  req_.set(http::field::host, "taskd");
  if (method == http::verb::post) req_.set(http::field::content_type, "application/json");
  req_.keep_alive(true);
  req_.body() = std::move(body);
  req_.prepare_payload();
  if (is_open()) return write();
  connect([self = shared_from_this()](beast::error_code ec) {
    if (ec) return self->finish(http_result{ec, 0, {}});
    self->write();
  });
}

void connection::write() {
  http::async_write(socket_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_read(ec);
    self->parser_.emplace();
    self->parser_->body_limit(max_response_bytes);
    http::async_read(self->socket_, self->buffer_, *self->parser_,
                     [self](beast::error_code ec2, std::size_t) { self->on_read(ec2); });
  });
}

void connection::on_read(beast::error_code ec) {
  if (ec) {
    // The socket is in an unknown state: drop it, the next request reconnects.
    beast::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
    return finish(http_result{ec, 0, {}});
  }
  auto& res = parser_->get();
  http_result r{{}, static_cast<int>(res.result_int()), std::move(res.body())};
  if (!res.keep_alive()) {
    beast::error_code ignored;
    socket_.close(ignored);
    buffer_.clear();
  }
  finish(std::move(r));
}

void connection::finish(http_result&& r) {
  busy_ = false;
  // The callback may start the next request on this connection, which sets done_ again.
  auto done = std::move(done_);
  done_ = nullptr;
  done(std::move(r));
}

std::optional<tcp::endpoint> parse_url(const std::string& url) {
  std::string rest = url;
  const std::string scheme = "http://";
  if (rest.rfind(scheme, 0) == 0) rest = rest.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = rest.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(rest.substr(colon + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec || port <= 0 || port > 65535) return std::nullopt;
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

void run_until(net::io_context& ioc, const std::function<bool()>& pred) {
  while (!pred()) {
    if (ioc.stopped()) ioc.restart();
    ioc.run_one();
  }
}

blocking_client::blocking_client(net::io_context& ioc, tcp::endpoint ep)
    : ioc_(ioc), conn_(std::make_shared<connection>(ioc, ep)) {}

http_result blocking_client::get(const std::string& target) {
  return send(http::verb::get, target, {});
}

http_result blocking_client::post(const std::string& target, std::string body) {
  return send(http::verb::post, target, std::move(body));
}

http_result blocking_client::send(http::verb method, const std::string& target, std::string body) {
  // One retry on a transport error: taskd closes keep-alive connections idle for 60 s, and
  // this client may sit idle that long between phases. A closed socket means the request
  // was not processed, so repeating it cannot create anything twice.
  for (int attempt = 0;; ++attempt) {
    bool was_open = conn_->is_open();
    std::optional<http_result> out;
    conn_->request(method, target, body, [&out](http_result&& r) { out = std::move(r); });
    run_until(ioc_, [&out] { return out.has_value(); });
    bool stale = out->ec == http::error::end_of_stream || out->ec == net::error::eof ||
                 out->ec == net::error::connection_reset || out->ec == net::error::broken_pipe;
    if (!stale || !was_open || attempt > 0) return std::move(*out);
  }
}

} // namespace bench
