#pragma once
// What every route handler shares: the exchange (one request, answered once), asking an
// actor without blocking an I/O thread, and request parsing helpers.

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "actors/messages.hpp"
#include "http/api.hpp"

namespace taskd::http {

namespace json = boost::json;

inline constexpr auto ask_timeout = std::chrono::seconds(60);

/// One request's context: what the handlers need to answer it.
struct exchange {
  const api_context& ctx;
  unsigned version;
  bool keep_alive;
  responder respond;

  void send(beast_http::status st, std::string body, const char* content_type = "application/json",
            const char* cache_control = nullptr) const;
  void json(int st, const json::value& v) const;
  /// One task as the API shows it, or `{"<key>": [tasks...]}` around several.
  void task(int st, const taskd::task& t) const;
  template <class Range, class Project>
  void tasks(int st, const char* key, const Range& items, Project project,
             std::string_view extra_fields = {}) const;
  void fail(const error& e) const;
};

/// `{"<key>": [tasks...]}`; `extra_fields`: more members after the array, already
/// serialized (",\"k\":v").
template <class Range, class Project>
std::string tasks_body(const char* key, const Range& items, Project project,
                       std::string_view extra_fields = {}) {
  std::string body = "{\"";
  body += key;
  body += "\":[";
  bool first = true;
  for (const auto& item : items) {
    if (!first) body += ',';
    first = false;
    append_task_json(body, project(item));
  }
  body += ']';
  body += extra_fields;
  body += '}';
  return body;
}

template <class Range, class Project>
void exchange::tasks(int st, const char* key, const Range& items, Project project,
                     std::string_view extra_fields) const {
  send(static_cast<beast_http::status>(st), tasks_body(key, items, project, extra_fields));
}

/// Asks the scheduler without blocking an I/O thread: a short-lived actor waits for the
/// reply and calls `then` on a CAF thread (which only posts the response back to Asio).
template <class Reply, class Then, class... Ts>
void ask_actor_within(const exchange& ex, caf::actor target, caf::duration timeout, Then then,
                      Ts... msg) {
  ex.ctx.sys->spawn([=](caf::event_based_actor* self) {
    self->request(target, timeout, msg...)
        .then([=](Reply r) { then(r); },
              [=](caf::error& e) {
                ex.fail(
                    make_error(errc::internal, "no answer from the engine: " + caf::to_string(e)));
              });
  });
}

template <class Reply, class Then, class... Ts>
void ask_actor(const exchange& ex, caf::actor target, Then then, Ts... msg) {
  ask_actor_within<Reply>(ex, std::move(target), caf::duration(ask_timeout), std::move(then),
                          msg...);
}

/// Asks the scheduler (see ask_actor).
template <class Reply, class Then, class... Ts> void ask(const exchange& ex, Then then, Ts... msg) {
  ask_actor<Reply>(ex, ex.ctx.scheduler, std::move(then), msg...);
}

result<json::value> parse_body(const request& req);
std::optional<task_id> parse_id(std::string_view s);
std::map<std::string, std::string> parse_query(std::string_view q);
std::vector<std::string_view> split_path(std::string_view path);

} // namespace taskd::http
