#include "http/event_socket.hpp"

#include <deque>
#include <mutex>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "actors/bridge_actor.hpp"
#include "actors/messages.hpp"
#include "src/core/events.hpp"

namespace taskd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

constexpr std::size_t max_client_message = 64 * 1024;

std::atomic<subscriber_id> next_subscriber{1};

class event_socket : public event_sink, public std::enable_shared_from_this<event_socket> {
public:
  event_socket(const event_socket_context& ctx, net::ip::tcp::socket&& socket)
      : ctx_(ctx), ws_(std::move(socket)), id_(next_subscriber++) {}

  void start(request&& upgrade) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout opt{};
    opt.handshake_timeout = std::chrono::seconds(30);
    opt.idle_timeout = std::chrono::milliseconds(ctx_.cfg.idle_timeout_ms);
    opt.keep_alive_pings = true; // a ping at half the idle timeout; no pong by the end: drop
    ws_.set_option(opt);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast_http::field::server, "taskd"); }));
    ws_.read_message_max(max_client_message);
    auto req = std::make_shared<request>(std::move(upgrade));
    ws_.async_accept(*req, [self = shared_from_this(), req](beast::error_code ec) {
      if (ec) return;
      caf::anon_send(self->ctx_.bridge, join_atom::value, self->id_,
                     make_boxed<std::shared_ptr<event_sink>>(self));
      self->read();
    });
  }

  void push(std::vector<event_message> messages) override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    for (auto& m : messages) queue_.push_back(std::move(m));
    set_backlog(queue_.size());
    start_writing();
  }

  std::size_t backlog() const override { return backlog_.load(); }

  void replace_backlog(event_message message) override {
    std::lock_guard lock(mu_);
    if (closed_) return;
    // The front message may be on the wire: it stays.
    queue_.erase(queue_.begin() + (writing_ && !queue_.empty() ? 1 : 0), queue_.end());
    queue_.push_back(std::move(message));
    set_backlog(queue_.size());
    start_writing();
  }

private:
  // Under mu_. Keeps the engine-wide count (admin info) in step with this queue.
  void set_backlog(std::size_t n) {
    auto before = backlog_.exchange(n);
    if (ctx_.queued)
      ctx_.queued->fetch_add(static_cast<std::int64_t>(n) - static_cast<std::int64_t>(before));
  }

  // Under mu_.
  void start_writing() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    net::post(ws_.get_executor(), [self = shared_from_this()] { self->write_front(); });
  }

  void write_front() {
    event_message msg;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() || closed_) {
        writing_ = false;
        return;
      }
      msg = queue_.front();
    }
    ws_.text(true);
    ws_.async_write(net::buffer(*msg),
                    [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
                      {
                        std::lock_guard lock(self->mu_);
                        if (!self->queue_.empty()) self->queue_.pop_front();
                        self->set_backlog(self->queue_.size());
                      }
                      if (ec) return self->finish();
                      self->write_front();
                    });
  }

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->finish();
      self->on_message(beast::buffers_to_string(self->buffer_.data()));
      self->buffer_.consume(self->buffer_.size());
      self->read();
    });
  }

  void on_message(const std::string& text) {
    auto req = parse_subscribe(text);
    if (!req) {
      push({std::make_shared<const std::string>(encode_error_event(req.err()))});
      return;
    }
    caf::anon_send(ctx_.bridge, subscribe_atom::value, id_,
                   make_boxed<subscribe_request>(std::move(*req)));
  }

  /// The connection is over (closed, timed out, failed): free the queue, tell the bridge.
  void finish() {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      queue_.clear();
      set_backlog(0);
      writing_ = false;
    }
    caf::anon_send(ctx_.bridge, leave_atom::value, id_);
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  event_socket_context ctx_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  subscriber_id id_;
  mutable std::mutex mu_;
  std::deque<event_message> queue_; // the front is on the wire while writing_
  bool writing_ = false;
  bool closed_ = false;
  std::atomic<std::size_t> backlog_{0};
};

} // namespace

void serve_event_socket(const event_socket_context& ctx, net::ip::tcp::socket&& socket,
                        request&& upgrade) {
  std::make_shared<event_socket>(ctx, std::move(socket))->start(std::move(upgrade));
}

} // namespace taskd::http
