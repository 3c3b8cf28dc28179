// The integration harness's WebSocket client (see harness.hpp).

#include <condition_variable>
#include <deque>
#include <fstream>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include "tests/integration/harness.hpp"

namespace it {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

struct ws_client::impl {
  net::io_context ioc;
  websocket::stream<net::ip::tcp::socket> ws{ioc};
  std::string error;
  bool open = false;
  std::thread reader;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> messages;
  bool closed = false;

  void read_loop() {
    for (;;) {
      beast::flat_buffer buf;
      beast::error_code ec;
      ws.read(buf, ec);
      std::lock_guard lock(mu);
      if (ec) {
        closed = true;
        cv.notify_all();
        return;
      }
      messages.push_back(beast::buffers_to_string(buf.data()));
      cv.notify_all();
    }
  }
};

ws_client::ws_client(std::uint16_t port, const std::string& target)
    : impl_(std::make_unique<impl>()) {
  try {
    net::ip::tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
    impl_->ws.next_layer().connect(ep);
    impl_->ws.handshake("127.0.0.1:" + std::to_string(port), target);
    impl_->open = true;
    impl_->reader = std::thread([this] { impl_->read_loop(); });
  } catch (const std::exception& e) {
    impl_->error = e.what();
  }
}

ws_client::~ws_client() {
  if (impl_->open) {
    beast::error_code ec;
    impl_->ws.next_layer().shutdown(net::ip::tcp::socket::shutdown_both, ec);
    impl_->ws.next_layer().close(ec);
  }
  if (impl_->reader.joinable()) impl_->reader.join();
}

bool ws_client::connected() const { return impl_->open; }
const std::string& ws_client::connect_error() const { return impl_->error; }

bool ws_client::closed() const {
  std::lock_guard lock(impl_->mu);
  return impl_->closed;
}

bool ws_client::send(const std::string& text) {
  if (!impl_->open) return false;
  beast::error_code ec;
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text), ec); // the reader thread only reads: one writer, here
  return !ec;
}

json::value ws_client::next(ms timeout) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, timeout, [&] { return !impl_->messages.empty() || impl_->closed; });
  if (impl_->messages.empty()) return nullptr;
  std::string text = std::move(impl_->messages.front());
  impl_->messages.pop_front();
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return json::value(text); // not JSON: the raw text, so the test can show it
  return v;
}

json::value ws_client::next_matching(const std::function<bool(const json::value&)>& pred,
                                     ms timeout, const std::string& what,
                                     std::vector<json::value>* seen) {
  auto deadline = steady::now() + timeout;
  std::string last;
  for (;;) {
    auto left = std::chrono::duration_cast<ms>(deadline - steady::now());
    if (left.count() <= 0) break;
    auto v = next(left);
    if (v.is_null()) break;
    if (seen) seen->push_back(v);
    last = json::serialize(v);
    if (pred(v)) return v;
  }
  FAIL("timed out waiting for " << what << " on the event stream; last message: "
                                << (last.empty() ? "(none)" : last.substr(0, 400))
                                << (closed() ? " (connection closed)" : ""));
  return nullptr;
}

std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream is(line.substr(6));
      std::uint64_t kib = 0;
      is >> kib;
      return kib;
    }
  }
  return 0;
}

} // namespace it
