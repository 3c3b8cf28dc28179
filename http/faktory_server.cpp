#include "http/faktory_server.hpp"

#include <openssl/sha.h>

#include <deque>
#include <random>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "src/core/clock.hpp"
#include "src/core/faktory_job.hpp"
#include "src/core/json_parse.hpp"

namespace taskd::http {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr millis fetch_wait_ms = 2000;
constexpr int hash_iterations = 1545;
constexpr auto ask_timeout = std::chrono::seconds(30);

std::string sha256_hex_iterated(const std::string& input, int iterations) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  for (int i = 1; i < iterations; ++i) SHA256(digest, sizeof digest, digest);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : digest) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 0xf]);
  }
  return out;
}

std::string random_salt() {
  std::random_device rd;
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(16, '0');
  for (auto& c : s) c = hex[rd() & 0xf];
  return s;
}

std::string simple(const std::string& s) { return "+" + s + "\r\n"; }
std::string err(const std::string& s) {
  std::string line = s;
  for (auto& c : line)
    if (c == '\r' || c == '\n') c = ' ';
  return "-ERR " + line + "\r\n";
}
std::string bulk(const std::string& s) {
  return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n";
}
const std::string null_bulk = "$-1\r\n";

} // namespace

struct faktory_server::shared {
  struct lease_ref {
    task_id id = 0;
    std::string token;
    std::string wid;
  };
  std::unordered_map<std::string, lease_ref> leases; // by jid
  std::uint64_t next_conn = 1;
  std::uint64_t pushed = 0, acked = 0, failed = 0;
  millis started_at = now_ms();
};

namespace {

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket sock, const api_context& ctx, const faktory_config& cfg, std::size_t max_line,
          std::shared_ptr<faktory_server::shared> st)
      : sock_(std::move(sock)), ctx_(ctx), cfg_(cfg), buf_(max_line), st_(std::move(st)) {
    conn_id_ = st_->next_conn++;
  }

  void start() {
    json::object hi{{"v", 2}};
    if (!cfg_.password.empty()) {
      salt_ = random_salt();
      hi["i"] = hash_iterations;
      hi["s"] = salt_;
    }
    send(simple("HI " + json::serialize(hi)));
  }

private:
  void send(std::string data, bool close_after = false) {
    auto self = shared_from_this();
    auto out = std::make_shared<std::string>(std::move(data));
    asio::async_write(sock_, asio::buffer(*out),
                      [self, out, close_after](boost::system::error_code ec, std::size_t) {
                        if (ec || close_after) {
                          boost::system::error_code ignored;
                          self->sock_.shutdown(tcp::socket::shutdown_both, ignored);
                          self->sock_.close(ignored);
                          return;
                        }
                        self->read_line();
                      });
  }

  void read_line() {
    auto self = shared_from_this();
    asio::async_read_until(
        sock_, buf_, "\r\n", [self](boost::system::error_code ec, std::size_t n) {
          if (ec == asio::error::not_found) // no line end within the bound
            return self->send(
                err("line too long (limit " + std::to_string(self->buf_.max_size()) + " bytes)"),
                true);
          if (ec) return;
          std::string line(asio::buffers_begin(self->buf_.data()),
                           asio::buffers_begin(self->buf_.data()) +
                               static_cast<std::ptrdiff_t>(n - 2));
          self->buf_.consume(n);
          self->handle(line);
        });
  }

  /// Asks the scheduler; `then` runs on this connection's I/O thread.
  template <class Reply, class Then, class... Ts> void ask(Then then, Ts... msg) {
    auto self = shared_from_this();
    ctx_.sys->spawn([=](caf::event_based_actor* a) {
      a->request(ctx_.scheduler, ask_timeout, msg...)
          .then([=](Reply r) { asio::post(self->sock_.get_executor(), [=] { then(r); }); },
                [=](caf::error& e) {
                  std::string why = caf::to_string(e);
                  asio::post(self->sock_.get_executor(),
                             [self, why] { self->send(err("no answer from the engine: " + why)); });
                });
    });
  }

  void handle(const std::string& line) {
    auto space = line.find(' ');
    std::string cmd = line.substr(0, space);
    std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    if (cmd == "END") return send("", true);
    if (cmd == "HELLO") return hello(arg);
    if (!hello_done_) return send(err("send HELLO first"));
    if (cmd == "PUSH") return push(arg, false);
    if (cmd == "PUSHB") return push(arg, true);
    if (cmd == "FETCH") return fetch(arg);
    if (cmd == "ACK" || cmd == "FAIL") return report(cmd, arg);
    if (cmd == "BEAT") return beat(arg);
    if (cmd == "INFO") return info();
    if (cmd == "FLUSH") return flush();
    send(err("unknown command " + cmd.substr(0, 64)));
  }

  std::optional<json::value> parse(const std::string& arg) {
    boost::system::error_code ec;
    auto v = parse_json(arg, ec);
    if (ec) {
      send(err("invalid JSON: " + ec.message()));
      return std::nullopt;
    }
    return v;
  }

  void hello(const std::string& arg) {
    auto v = parse(arg);
    if (!v) return;
    if (!v->is_object()) return send(err("HELLO needs a JSON object"));
    const auto& o = v->get_object();
    if (auto* version = o.if_contains("v");
        version && version->is_int64() && version->get_int64() != 2)
      return send(err("protocol version 2 only"));
    if (!cfg_.password.empty()) {
      auto* h = o.if_contains("pwdhash");
      if (!h || !h->is_string() ||
          h->get_string() != sha256_hex_iterated(cfg_.password + salt_, hash_iterations))
        return send(err("invalid password"), true);
    }
    if (auto* wid = o.if_contains("wid"); wid && wid->is_string() && !wid->get_string().empty())
      wid_ = std::string(wid->get_string()).substr(0, 200);
    else
      wid_ = "faktory-connection-" + std::to_string(conn_id_);
    hello_done_ = true;
    send(simple("OK"));
  }

  void push(const std::string& arg, bool batch) {
    auto v = parse(arg);
    if (!v) return;
    std::vector<const json::value*> jobs;
    if (batch) {
      if (!v->is_array()) return send(err("PUSHB needs a JSON array of jobs"));
      if (v->get_array().size() > ctx_.cfg->limits.max_batch)
        return send(err("PUSHB: at most " + std::to_string(ctx_.cfg->limits.max_batch) + " jobs"));
      for (const auto& j : v->get_array()) jobs.push_back(&j);
    } else {
      jobs.push_back(&*v);
    }
    create_call call;
    auto& tasks = call.tasks;
    json::object rejected;
    millis now = now_ms();
    for (const auto* j : jobs) {
      auto t = task_from_faktory_job(*j, *ctx_.cfg, now);
      if (t) {
        tasks.push_back(std::move(*t));
        continue;
      }
      if (!batch) return send(err(t.err().message));
      std::string jid = "?";
      if (j->is_object())
        if (auto* id = j->get_object().if_contains("jid"); id && id->is_string())
          jid = std::string(id->get_string());
      rejected[jid] = t.err().message;
    }
    if (tasks.empty()) return send(simple(json::serialize(rejected)));
    auto self = shared_from_this();
    // Called once: the captures move on to the I/O thread instead of being copied there.
    call.reply = [self, batch,
                  rejected = std::move(rejected)](std::shared_ptr<const write_result> r) mutable {
      auto exec = self->sock_.get_executor();
      asio::post(exec,
                 [self = std::move(self), batch, rejected = std::move(rejected), r = std::move(r)] {
                   if (!*r) return self->send(err(r->err().message));
                   self->st_->pushed += r->value().size();
                   self->send(batch ? simple(json::serialize(rejected)) : simple("OK"));
                 });
    };
    submit_create(*ctx_.creates, std::move(call));
  }

  void fetch(const std::string& arg) {
    std::vector<std::string> queues;
    for (std::size_t i = 0; i < arg.size();) {
      auto j = arg.find(' ', i);
      if (j == std::string::npos) j = arg.size();
      if (j > i) queues.push_back(arg.substr(i, j - i));
      i = j + 1;
    }
    if (queues.empty()) queues.push_back("default");
    auto req = make_boxed<lease_request>();
    req->worker = wid_;
    req->max = 1;
    req->wait_ms = fetch_wait_ms;
    req->lease_ms = 0; // each task's own reserve_for
    for (const auto* tc : all_types(*ctx_.cfg))
      if (tc->handler == handler_kind::worker &&
          std::find(queues.begin(), queues.end(), tc->queue) != queues.end())
        req->types.push_back(tc->name);
    auto self = shared_from_this();
    if (req->types.empty()) {
      // Nothing could ever match: block as a FETCH would, then answer null.
      auto timer = std::make_shared<asio::steady_timer>(sock_.get_executor(),
                                                        std::chrono::milliseconds(fetch_wait_ms));
      return timer->async_wait([self, timer](boost::system::error_code) { self->send(null_bulk); });
    }
    ask<boxed<lease_reply>>(
        [self](boxed<lease_reply> r) {
          if (!*r) return self->send(err(r->err().message));
          if (r->value().empty()) return self->send(null_bulk);
          const task& t = r->value().front();
          auto job = faktory_job_from_task(t, *self->ctx_.cfg);
          self->st_->leases[faktory_jid(t)] = {t.id, t.lease_token, self->wid_};
          self->send(bulk(json::serialize(job)));
        },
        lease_atom::value, req);
  }

  void report(const std::string& cmd, const std::string& arg) {
    auto v = parse(arg);
    if (!v) return;
    const json::object* o = v->if_object();
    const json::value* jid = o ? o->if_contains("jid") : nullptr;
    if (!jid || !jid->is_string()) return send(err(cmd + " needs {\"jid\": ...}"));
    std::string id(jid->get_string());
    auto lease = st_->leases.find(id);
    if (lease == st_->leases.end() || lease->second.wid != wid_)
      return send(err("lease_lost: job " + id + " is not leased to this worker"));
    auto call = make_boxed<worker_call>();
    call->id = lease->second.id;
    call->token = lease->second.token;
    if (cmd == "ACK") {
      call->kind = worker_report::complete;
    } else {
      call->kind = worker_report::fail;
      std::string message, errtype;
      if (auto* m = o->if_contains("message"); m && m->is_string()) message = m->get_string();
      if (auto* e = o->if_contains("errtype"); e && e->is_string()) errtype = e->get_string();
      call->error = errtype.empty() ? message : errtype + ": " + message;
      if (call->error.empty()) call->error = "failed";
      if (auto* bt = o->if_contains("backtrace"); bt && bt->is_array())
        for (const auto& l : bt->get_array())
          if (l.is_string() && call->lines.size() < 50) call->lines.emplace_back(l.get_string());
    }
    auto self = shared_from_this();
    bool ack = cmd == "ACK";
    ask<boxed<write_result>>(
        [self, id, ack](boxed<write_result> r) {
          auto l = self->st_->leases.find(id);
          if (!*r) {
            if (r->err().code == errc::lease_lost && l != self->st_->leases.end() &&
                l->second.wid == self->wid_)
              self->st_->leases.erase(l);
            return self->send(err(std::string(errc_name(r->err().code)) + ": " + r->err().message));
          }
          if (l != self->st_->leases.end()) self->st_->leases.erase(l);
          (ack ? self->st_->acked : self->st_->failed) += 1;
          self->send(simple("OK"));
        },
        report_atom::value, call);
  }

  void beat(const std::string& arg) {
    auto v = parse(arg);
    if (!v) return;
    if (ctx_.draining && ctx_.draining->load()) return send(simple("{\"state\":\"quiet\"}"));
    send(simple("OK"));
  }

  void info() {
    json::object queues;
    for (const auto& [name, counts] : ctx_.db->counts()) {
      const type_config* tc = find_type(*ctx_.cfg, name);
      if (!tc || tc->handler != handler_kind::worker) continue;
      auto& q = queues[tc->queue];
      std::uint64_t pending = counts[static_cast<int>(task_status::pending)];
      q = (q.is_null() ? 0 : q.to_number<std::uint64_t>()) + pending;
    }
    json::object out{
        {"faktory",
         {{"total_enqueued", st_->pushed},
          {"total_processed", st_->acked + st_->failed},
          {"total_failures", st_->failed},
          {"total_queues", queues.size()},
          {"queues", queues}}},
        {"server",
         {{"description", "taskd"},
          {"faktory_version", std::string("taskd ") + TASKD_VERSION},
          {"uptime", (now_ms() - st_->started_at) / 1000},
          {"connections", st_->next_conn - 1}}},
    };
    send(bulk(json::serialize(out)));
  }

  void flush() {
    if (!cfg_.allow_flush) return send(err("FLUSH is disabled ([faktory] allow_flush = false)"));
    auto self = shared_from_this();
    auto req = make_boxed<bulk_request>();
    req->action = bulk_action::clean;
    req->older_than_ms = 0;
    ask<boxed<bulk_result>>(
        [self](boxed<bulk_result> r) {
          if (!*r) return self->send(err(r->err().message));
          self->send(simple("OK"));
        },
        bulk_atom::value, req);
  }

  tcp::socket sock_;
  const api_context& ctx_;
  const faktory_config& cfg_;
  asio::streambuf buf_;
  std::shared_ptr<faktory_server::shared> st_;
  std::uint64_t conn_id_ = 0;
  std::string salt_;
  std::string wid_;
  bool hello_done_ = false;
};

void accept_loop(std::shared_ptr<tcp::acceptor> acc, const api_context& ctx,
                 const faktory_config& cfg, std::size_t max_line,
                 std::shared_ptr<faktory_server::shared> st) {
  acc->async_accept([=, &ctx, &cfg](boost::system::error_code ec, tcp::socket sock) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<session>(std::move(sock), ctx, cfg, max_line, st)->start();
    accept_loop(acc, ctx, cfg, max_line, st);
  });
}

} // namespace

faktory_server::faktory_server(const api_context& ctx, faktory_config cfg,
                               std::size_t max_line_bytes)
    : ctx_(ctx), cfg_(std::move(cfg)), max_line_(max_line_bytes),
      state_(std::make_shared<shared>()) {}

faktory_server::~faktory_server() { stop(); }

void faktory_server::start() {
  auto acc = std::make_shared<tcp::acceptor>(ioc_);
  tcp::endpoint ep(asio::ip::make_address(cfg_.host), cfg_.port);
  acc->open(ep.protocol());
  acc->set_option(asio::socket_base::reuse_address(true));
  acc->bind(ep);
  acc->listen();
  port_ = acc->local_endpoint().port();
  accept_loop(acc, ctx_, cfg_, max_line_, state_);
  thread_ = std::thread([this] { ioc_.run(); });
}

void faktory_server::stop() {
  ioc_.stop();
  if (thread_.joinable()) thread_.join();
}

} // namespace taskd::http
